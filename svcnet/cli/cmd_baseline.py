"""``svcnet baseline``: grayscale or Levin et al. (2004) colourisation of a clip, laid out like ``svcnet colorize``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("baseline")
    def baseline_cmd(
        input: Path = typer.Argument(..., help="Folder of frames (numeric order) or a video file."),
        method: str = typer.Option(..., "--method", "-m", help="gray (the luma input) | levin (Levin et al. 2004)."),
        scribbles: Path = typer.Option(
            None,
            "--scribbles",
            "-s",
            help=("levin: folder of per-frame scribbles (<frame>_256p.png or <frame>.png; black = none)."),
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder: frames/*.png, colorized.mp4, metadata.json."),
        size: str = typer.Option(
            "256x448", "--size", help="levin: working size H x W of the scribbles (they may also be at frame size)."
        ),
        max_frames: int = typer.Option(None, "--max-frames", help="Only the first N frames."),
        fps: float = typer.Option(None, "--fps", help="mp4 frame rate (default: the input video's, or 25)."),
        no_video: bool = typer.Option(False, "--no-video", help="Write PNG frames and metadata only."),
        force: bool = typer.Option(False, "--force", help="Redo a run whose finished output is already in OUT."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Colourise INPUT with a baseline (CPNet and SVCNet are `svcnet colorize --method cpnet|svcnet`)."""
        from svcnet.cli.cmd_colorize import parse_size
        from svcnet.evaluate.baseline import BaselineRequest, run_baseline

        request = BaselineRequest(
            method=method,
            input=str(input),
            scribbles=str(scribbles) if scribbles else None,
            work_size=parse_size(size),
            max_frames=max_frames,
            fps=fps,
            video=not no_video,
        )
        meta = run_baseline(request, out, force=force, progress=not quiet)
        typer.echo(f"done: {meta.parent}")
