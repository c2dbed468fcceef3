"""``svcnet studio``: the local web app to paint keyframe scribbles, preview them and colourise a clip."""

from __future__ import annotations

from pathlib import Path

import typer

from svcnet.errors import SvcnetError


def register(app: typer.Typer) -> None:
    @app.command("studio")
    def studio_cmd(
        input: Path = typer.Argument(None, help="Video file or folder of frames to open (or open one in the page)."),
        project: Path = typer.Option(
            None,
            "--project",
            "-p",
            help="Project folder: scribbles, previews, the colorize job (default <input>.studio).",
        ),
        port: int = typer.Option(7860, "--port", help="Port on 127.0.0.1."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
        weights: Path = typer.Option(
            None, "--weights", "-w", help="Folder with the official checkpoints (default $SVCNET_WEIGHTS or ./weights)."
        ),
        cpnet: Path = typer.Option(None, "--cpnet", help="CPNet checkpoint file (overrides --weights)."),
        ssnet: Path = typer.Option(None, "--ssnet", help="SSNet checkpoint file (overrides --weights)."),
        pwcnet: Path = typer.Option(None, "--pwcnet", help="PWC-Net checkpoint file (else OpenCV DIS flow)."),
        size: str = typer.Option("256x448", "--size", help="Working size H x W for previews and colorize runs."),
    ) -> None:
        """Start the scribble studio: paint scribbles on keyframes, preview them, colourise the clip or one shot and
        download the result (mp4 with the input's sound, PNG frames)."""
        try:
            from svcnet.studio.page import serve
        except ImportError as exc:
            raise SvcnetError(f"the studio needs its optional extra: pip install -e '.[studio]' ({exc})") from None
        from svcnet.cli.cmd_colorize import parse_size
        from svcnet.infer.models import WeightOptions
        from svcnet.studio.app import Studio

        studio = Studio(
            WeightOptions(weights_dir=weights, cpnet=cpnet, ssnet=ssnet, pwcnet=pwcnet), work_size=parse_size(size)
        )
        if input is not None:
            studio.open(str(input), str(project) if project else None)
        typer.echo(f"svcnet studio on http://{host}:{port} (Ctrl+C to stop)")
        serve(studio, host=host, port=port)
