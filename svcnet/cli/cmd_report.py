"""``svcnet report``: tables (methods × datasets × metrics), plots, side-by-side GIFs and index.html."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        eval_dirs: list[Path] = typer.Option(
            ...,
            "--eval",
            "-e",
            help="An `svcnet evaluate` output (repeatable); one that recorded a skip (--if-listed) is left out.",
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Report folder (index.html, results.md, plots, media)."),
        scribbles: Path = typer.Option(None, "--scribbles", help="Scribble root <clip>/<frame>_256p.png for GIFs."),
        config: list[Path] = typer.Option(None, "--config", "-c", help="Config file(s) recorded in the header."),
        profile: str = typer.Option(None, "--profile", help="Config profile."),
        gif_videos: int = typer.Option(None, "--gif-videos", help="Side-by-side GIFs for this many videos."),
        training: list[Path] = typer.Option(
            None,
            "--training",
            "-t",
            help=("A `svcnet train` output folder (repeatable): its stages' learning curves and loss summary."),
        ),
    ) -> None:
        """Build the report from evaluation folders."""
        from svcnet.config import DEFAULT_CONFIG, load_config
        from svcnet.evaluate.listed import is_skipped
        from svcnet.evaluate.report import build_report
        from svcnet.evaluate.report_data import load_run
        from svcnet.evaluate.report_training import find_training_runs

        cfg: dict = {}
        paths = list(config or ([DEFAULT_CONFIG] if Path(DEFAULT_CONFIG).is_file() else []))
        if paths:
            loaded = load_config(paths, profile)
            cfg = {k: v for k, v in _thaw(loaded.raw).items()}
        section = cfg.get("report", {})
        runs = [load_run(d) for d in eval_dirs if not is_skipped(d)]
        stages = [t for d in training or [] for t in find_training_runs(d)]
        index = build_report(
            runs,
            out,
            cfg,
            scribbles,
            gif_videos if gif_videos is not None else section.get("gif_videos", 2),
            section.get("gif_frames", 24),
            training=stages,
        )
        typer.echo(f"report: {index}")


def _thaw(value):
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(v) for v in value]
    return value
