"""``svcnet saliency``: a saliency map per frame (PFAN, else dataset masks or OpenCV saliency)."""

from __future__ import annotations

from pathlib import Path

import typer

CONFIG_HELP = "Config file(s) for the `saliency:` section; later files are merged over earlier ones."


def register(app: typer.Typer) -> None:
    @app.command("saliency")
    def saliency_cmd(
        clips_dir: Path = typer.Argument(..., help="Clip folder (<clip>/frames/*, optional <clip>/masks/*)."),
        out: Path = typer.Option(..., "--out", "-o", help="Writes OUT/<clip>/<frame>.png + OUT/<clip>/metadata.json."),
        clip: list[str] = typer.Option(None, "--clip", help="Only this clip (repeatable; default: all)."),
        method: str = typer.Option(
            None,
            "--method",
            "-m",
            help="auto | release | pfan | masks | spectral_residual | fine_grained (default: auto).",
        ),
        weights: Path = typer.Option(None, "--weights", help="PFAN checkpoint (default: weights/<registry file>)."),
        device: str = typer.Option(None, "--device", help="auto | cpu | cuda (PFAN only)."),
        config: list[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
        profile: str = typer.Option(None, "--profile", "-p", help="Profile to apply (default: the file's `profile:`)."),
        force: bool = typer.Option(False, "--force", help="Recompute clips that are already up to date."),
    ) -> None:
        """Saliency maps for the clips of CLIPS_DIR; metadata.json says which method made each clip's maps."""
        import dataclasses

        from svcnet.saliency.run import SaliencySettings, run_saliency

        settings = SaliencySettings()
        if config:
            from svcnet.config import load_config

            settings = load_config(config, profile).section_as("saliency", SaliencySettings)
        given = {"method": method, "weights": str(weights) if weights else None, "device": device}
        settings = dataclasses.replace(settings, **{k: v for k, v in given.items() if v is not None})
        for meta in run_saliency(clips_dir, out, settings, clip or (), force=force):
            state = "up to date" if meta.get("skipped") else "written"
            typer.echo(f"{out}/{meta['clip']}: {meta['frames']} maps by {meta['method']} ({meta['reason']}; {state})")
