"""``svcnet colorize``: colourise a clip (folder of frames or video) from colour scribbles with SVCNet or CPNet."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from svcnet.data.shots import SHOTS_MODES
from svcnet.data.video import DEFAULT_CODEC, DEFAULT_CRF, VIDEO_CODEC_HELP
from svcnet.errors import InputError
from svcnet.ops.lightness import DEFAULT_LIGHTNESS, LIGHTNESS_HELP


def parse_size(text: str) -> tuple[int, int]:
    """``256x448`` (H x W) → (256, 448)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise InputError(f"--size must look like 256x448 (height x width), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def register(app: typer.Typer) -> None:
    @app.command("colorize")
    def colorize_cmd(
        input: Path = typer.Argument(..., help="Folder of frames (numeric order) or a video file (mp4, avi, ...)."),
        scribbles: Path = typer.Option(
            ...,
            "--scribbles",
            "-s",
            help=(
                "Folder of scribble images (<frame>_256p.png or <frame>.png; black = no scribble) for every frame or "
                "for a few keyframes, or one image for the first frame. Frames without their own scribble take the "
                "nearest keyframe's (within the shot), carried along the flow; a tie goes to the earlier keyframe."
            ),
        ),
        out: Path = typer.Option(
            ...,
            "--out",
            "-o",
            help=(
                "Output folder: frames/*.png, colorized.mp4, metadata.json; it appears when complete. An interrupted "
                "run continues from its last finished frame when rerun with the same arguments (work folder .OUT.work)."
            ),
        ),
        shots: str = typer.Option(
            SHOTS_MODES[0],
            "--shots",
            help=(
                "auto: find shot cuts | none: the clip is one shot | FILE: a shot list (cut frame numbers or "
                "timecodes). Each shot is colourised as its own clip (reference, window, scribbles)."
            ),
        ),
        weights: Path = typer.Option(
            None,
            "--weights",
            "-w",
            help=(
                "Folder with the official checkpoint names (cpnet_epoch1000_batchsize32.pth, ssnet_epoch2000_bs8.pth, "
                "pwcNet-default.pytorch); default $SVCNET_WEIGHTS or ./weights."
            ),
        ),
        cpnet: Path = typer.Option(None, "--cpnet", help="CPNet checkpoint file (overrides --weights)."),
        ssnet: Path = typer.Option(None, "--ssnet", help="SSNet checkpoint file (overrides --weights)."),
        pwcnet: Path = typer.Option(None, "--pwcnet", help="PWC-Net checkpoint file (overrides --weights)."),
        flow: str = typer.Option(
            "auto", "--flow", help="auto (PWC-Net if its weights are found, else DIS) | pwc | dis."
        ),
        device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
        method: str = typer.Option("svcnet", "--method", help="svcnet (CPNet + SSNet) | cpnet (frame-wise baseline)."),
        edge: str = typer.Option(
            "mirror",
            "--edge",
            help=(
                "mirror: SSNet on every frame, neighbours beyond the clip mirrored | official: first/last 3 frames "
                "from CPNet (needs >= 7 frames)."
            ),
        ),
        size: str = typer.Option("256x448", "--size", help="Working size H x W (multiples of 16; official 256x448)."),
        lightness: str = typer.Option(
            DEFAULT_LIGHTNESS,
            "--lightness",
            help=f"Output L channel: {LIGHTNESS_HELP} (official is the official code's).",
        ),
        fps: str = typer.Option(
            None,
            "--fps",
            help=(
                "Output frame rate, exact: 25, 24000/1001 (default: the input video's, or 25 for a folder). Another "
                "rate than a video input's leaves its audio out."
            ),
        ),
        video_codec: str = typer.Option(
            DEFAULT_CODEC, "--video-codec", help=f"Output video codec: {VIDEO_CODEC_HELP}."
        ),
        video_quality: int = typer.Option(
            DEFAULT_CRF, "--video-quality", help="x264 crf 0-51, lower is better (ignored by ffv1)."
        ),
        max_frames: int = typer.Option(None, "--max-frames", help="Only the first N frames (from --start-frame)."),
        start_frame: int = typer.Option(
            0,
            "--start-frame",
            help=(
                "Start at frame N of INPUT (0-based; with --max-frames, a range such as one shot). Frames keep their "
                "names (a video's are its frame numbers); a video's audio is cut at the audio packet at or after "
                "the start."
            ),
        ),
        no_video: bool = typer.Option(False, "--no-video", help="Write PNG frames and metadata only."),
        force: bool = typer.Option(False, "--force", help="Redo a run whose finished output is already in OUT."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Colourise INPUT from colour scribbles, shot by shot; writes lossless PNG frames, a video (the input's exact
        frame rate and audio stream) and metadata.json to OUT."""
        from svcnet.infer.models import WeightOptions
        from svcnet.infer.run import ColorizeRequest, colorize_files
        from svcnet.ops.device import cap_cpu_threads

        cap_cpu_threads()
        request = ColorizeRequest(
            input=str(input),
            scribbles=str(scribbles),
            method=method,
            flow=flow,
            edge=edge,
            work_size=parse_size(size),
            lightness=lightness,
            max_frames=max_frames,
            start_frame=start_frame,
            fps=fps,
            video=not no_video,
            video_codec=video_codec,
            video_quality=video_quality,
            shots=shots,
        )
        opts = WeightOptions(weights_dir=weights, cpnet=cpnet, ssnet=ssnet, pwcnet=pwcnet)
        meta = colorize_files(request, out, opts, device=device, force=force, progress=not quiet)
        typer.echo(f"done: {meta.parent}")
