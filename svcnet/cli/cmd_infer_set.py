"""``svcnet infer-set``: one method on every clip of a prepared split (DVC's batch form of the per-clip DAG jobs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from svcnet.ops.lightness import DEFAULT_LIGHTNESS, LIGHTNESS_HELP, check_lightness


def register(app: typer.Typer) -> None:
    @app.command("infer-set")
    def infer_set_cmd(
        split: Path = typer.Argument(..., help="Prepared split: <clip>/frames/*.png (e.g. data/demo/eval)."),
        method: str = typer.Option(
            ...,
            "--method",
            "-m",
            help="gray | levin | cpnet | svcnet | official_cpnet | official_svcnet (the released weights under "
            "--weights, default weights/).",
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Output root: <clip>/ in the `svcnet colorize` layout."),
        scribbles: Path = typer.Option(
            None,
            "--scribbles",
            "-s",
            help=("Scribble root <clip>/<frame>_256p.png (e.g. results/demo/scribbles/gt); not used by gray."),
        ),
        weights: Path = typer.Option(None, "--weights", "-w", help="cpnet/svcnet: folder with the official names."),
        cpnet: Path = typer.Option(None, "--cpnet", help="cpnet/svcnet: CPNet checkpoint (overrides --weights)."),
        ssnet: Path = typer.Option(None, "--ssnet", help="svcnet: SSNet checkpoint (overrides --weights)."),
        size: str = typer.Option(
            None,
            "--size",
            help=("cpnet/svcnet working size H x W (default: data.height x data.width of --config, else 256x448)."),
        ),
        lightness: str = typer.Option(
            None,
            "--lightness",
            help=(
                f"cpnet/svcnet output L channel, {LIGHTNESS_HELP} (default: infer.lightness of --config, else "
                f"{DEFAULT_LIGHTNESS})."
            ),
        ),
        edge: str = typer.Option(
            None,
            "--edge",
            help="svcnet edge frames: mirror | official (default: infer.edge of --config, else mirror).",
        ),
        config: list[Path] = typer.Option(
            None, "--config", "-c", help=("Config file(s) for the working size, the lightness and the edge policy.")
        ),
        profile: str = typer.Option(None, "--profile", "-p", help="Profile to apply (default: the file's)."),
        if_listed: bool = typer.Option(
            False,
            "--if-listed",
            help="Only when evaluate.methods of --config names METHOD; else record the skip in OUT/skipped.json.",
        ),
        device: str = typer.Option(
            None, "--device", help="cpnet/svcnet: auto | cpu | cuda (default: infer.device of --config, else auto)."
        ),
        force: bool = typer.Option(False, "--force", help="Redo clips whose finished output is already in OUT."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        """Run METHOD on every clip of SPLIT into OUT/<clip>/, exactly as one `svcnet baseline` / `svcnet colorize`
        per clip (the Snakemake jobs) would; finished clips are skipped."""
        from svcnet.evaluate.infer_set import check_method, configured_settings, infer_set
        from svcnet.infer.models import WeightOptions

        opts = WeightOptions(weights_dir=weights, cpnet=cpnet, ssnet=ssnet)
        check_method(method, scribbles, opts)
        if if_listed:
            from svcnet.evaluate.listed import unlisted_reason, write_skipped

            reason = unlisted_reason(method, config, profile)
            if reason:
                write_skipped(out, method, reason)
                typer.echo(f"skipped: {reason}")
                return
        settings = configured_settings(config, profile)
        if size is not None:
            from svcnet.cli.cmd_colorize import parse_size

            settings = replace(settings, work_size=parse_size(size))
        settings = replace(
            settings,
            lightness=check_lightness(lightness) if lightness else settings.lightness,
            edge=edge or settings.edge,
            device=device or settings.device,
        )
        infer_set(
            split,
            out,
            method,
            scribbles,
            settings,
            opts,
            force=force,
            progress=not quiet,
            on_done=lambda dest: typer.echo(f"done: {dest}"),
        )
