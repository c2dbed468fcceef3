"""``svcnet prepare``: materialise the configured clip set of a split at the working size."""

from __future__ import annotations

from pathlib import Path

import typer

CONFIG_HELP = "Config file(s); later files are merged over earlier ones."


def register(app: typer.Typer) -> None:
    @app.command("prepare")
    def prepare_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Output folder, e.g. data/demo/eval (replaced atomically)."),
        config: list[Path] = typer.Option([Path("config/config.yaml")], "--config", "-c", help=CONFIG_HELP),
        profile: str = typer.Option(None, "--profile", "-p", help="Profile to apply (default: the file's `profile:`)."),
        split: str = typer.Option("eval", "--split", "-s", help="Which clip set of `data:`: train or eval."),
        fetch_root: Path = typer.Option(
            Path("."),
            help=(
                "Folder the source registry downloads under: `registry:<name>` values and sources without `root:` "
                "are read where `svcnet fetch <name> --dest FETCH_ROOT` puts them (DAVIS 2017 is downloaded there "
                "when absent)."
            ),
        ),
    ) -> None:
        """Copy/resize the clips of `data.<split>` (demo, a local folder, DAVIS 2017, or the SVCNet DAVIS-Videvo train /
        validation releases; tagged validation clips go to OUT/<tag>/<video>/) into OUT."""
        from svcnet.config import load_config
        from svcnet.data.atomic import remove_stale_temps
        from svcnet.data.prepare import prepare_clipset

        cfg = load_config(config, profile)
        remove_stale_temps(out)
        manifest = prepare_clipset(
            cfg.data.clipset(split), out, (cfg.data.height, cfg.data.width), cfg.data.interpolation, fetch_root
        )
        frames = sum(c["frames"] for c in manifest["clips"].values())
        typer.echo(f"{out}: {len(manifest['clips'])} clips, {frames} frames ({cfg.profile}/{split})")
