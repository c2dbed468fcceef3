"""``svcnet colorize`` as a library call: files in, an atomic output folder (PNG frames, mp4, metadata) out."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from svcnet.data.video import DEFAULT_CODEC, DEFAULT_CRF, VideoSettings, fps_text, parse_fps
from svcnet.errors import InputError
from svcnet.infer.carry import ScribbleCarrier
from svcnet.infer.inputs import Clip, Scribbles, _check_scribble_size, open_clip, open_scribbles
from svcnet.infer.models import WeightOptions, load_models
from svcnet.infer.preprocess import compose_rgb, frame_input, scribble_tensor
from svcnet.infer.streaming import FrameInput, InferenceConfig, StreamingColorizer
from svcnet.infer.writers import clip_output, previous_metadata
from svcnet.ops.device import resolve_device
from svcnet.ops.lightness import DEFAULT_LIGHTNESS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColorizeRequest:
    """Everything a ``svcnet colorize`` run depends on (compared with a finished run's to skip a re-run)."""

    input: str
    scribbles: str
    method: str = "svcnet"
    flow: str = "auto"
    edge: str = "mirror"
    work_size: tuple[int, int] = (256, 448)
    lightness: str = DEFAULT_LIGHTNESS
    max_frames: int | None = None
    fps: str | None = None  # exact output rate (25, 24000/1001); None: the input video's, or 25
    video: bool = True
    video_codec: str = DEFAULT_CODEC
    video_quality: int = DEFAULT_CRF


def _frame_inputs(clip: Clip, scribbles: Scribbles, config: InferenceConfig) -> Iterator[FrameInput]:
    for i, (name, rgb) in enumerate(clip.frames()):
        scribble = None
        if scribbles.carried and i == 0 and clip.is_video:
            _check_scribble_size(scribbles.first, clip.size, config.work_size)
        if not scribbles.carried:
            path = scribbles.path_for(name)
            if clip.is_video:  # folders were checked up front
                _check_scribble_size(path, clip.size, config.work_size)
            scribble = scribbles.read(name)
        yield frame_input(rgb, scribble, config.work_size, transform=config.method == "svcnet", payload=(name, rgb))


def _sha256(path: Path) -> str:
    from svcnet.sources import sha256_file

    return sha256_file(path)


def colorize_files(
    request: ColorizeRequest,
    out: Path,
    weights: WeightOptions = WeightOptions(),
    device: str = "auto",
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Colourise ``request.input`` with its scribbles into ``out``; returns the metadata path.

    Inputs and weights are checked before any network runs; the output folder appears only when complete. A re-run
    with the same request and weights finds the finished output and does nothing (``force`` redoes it).
    """
    from tqdm import tqdm

    from svcnet import __version__

    out = Path(out)
    config = InferenceConfig(
        work_size=tuple(request.work_size), method=request.method, edge=request.edge, lightness=request.lightness
    )
    previous = previous_metadata(out)
    video_settings = VideoSettings(request.video_codec, request.video_quality)
    fps = parse_fps(request.fps) if request.fps is not None else None
    clip = open_clip(request.input, limit=request.max_frames, fps=fps)
    scribbles = open_scribbles(request.scribbles, clip, config.work_size)
    if clip.count is not None and config.method == "svcnet":
        if clip.count < 2:
            raise InputError(
                f"{clip.source} has 1 frame; SVCNet needs at least 2 (use --method cpnet for single images)"
            )
        if config.edge == "official" and clip.count < 7:
            raise InputError(
                f"{clip.source} has {clip.count} frames; --edge official needs at least 7 (use --edge mirror)"
            )
    dev = resolve_device(device)
    models, paths = load_models(config.method, request.flow, weights, dev, carry=scribbles.carried)
    weights_used = {name: {"path": str(p.resolve()), "sha256": _sha256(p)} for name, p in paths.items()}
    req = {
        **asdict(request),
        "work_size": list(request.work_size),
        "input": str(Path(request.input).resolve()),
        "scribbles": str(Path(request.scribbles).resolve()),
    }
    if (
        previous
        and not force
        and previous.get("request") == req
        and previous.get("weights") == weights_used
        and all((out / "frames" / f"{n}.png").is_file() for n in previous.get("frames", []))
    ):
        log.info("%s is already done (same inputs, options and weights); use --force to redo it", out)
        return out / "metadata.json"
    flow_info = None
    if models.flow is not None:
        flow_info = {
            "backend": models.flow.name,
            "convention": models.flow.convention,
            "weights": weights_used.get("pwcnet"),
        }
    carrier = None
    if scribbles.carried:
        from svcnet.data.frames import read_rgb

        carrier = ScribbleCarrier(read_rgb(scribbles.first), config.work_size, scribble_tensor)
    log.info(
        "colorize %s → %s: method %s, device %s, working size %dx%d, edge policy %s",
        clip.source,
        out,
        config.method,
        dev,
        config.work_size[1],
        config.work_size[0],
        config.edge,
    )
    colorizer = StreamingColorizer(models, config, carrier)
    start = time.perf_counter()
    sources: dict[str, int] = {}
    audio_from = _audio_source(clip, fps)
    with clip_output(out, clip.fps, request.video, video_settings, audio_from) as writer:
        bar = tqdm(total=clip.count, unit="frame", desc="colorize", disable=not progress)
        try:
            for res in colorizer.run(_frame_inputs(clip, scribbles, config)):
                name, rgb = res.payload
                compose_start = time.perf_counter()
                writer.add(name, compose_rgb(res.ab, rgb, config.lightness))
                colorizer.timings["compose_write"] = (
                    colorizer.timings.get("compose_write", 0.0) + time.perf_counter() - compose_start
                )
                sources[res.source] = sources.get(res.source, 0) + 1
                bar.update(1)
        finally:
            bar.close()
        total = time.perf_counter() - start
        n = len(writer.names)
        writer.finish(
            {
                "request": req,
                "svcnet_version": __version__,
                "torch": torch.__version__,
                "device": str(dev)
                + (
                    f" ({torch.cuda.get_device_name(dev)})"
                    if dev.type == "cuda"
                    else f" ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
                ),
                "weights": weights_used,
                "flow": flow_info,
                "scribbles": {
                    "path": str(Path(request.scribbles).resolve()),
                    "mode": "carried along the flow from the first frame" if scribbles.carried else "one per frame",
                },
                "edge_policy": config.edge if config.method == "svcnet" else None,
                "edge_policy_text": _edge_text(config),
                "work_size": list(config.work_size),
                "lightness": config.lightness,
                "frame_sources": sources,
                "input_size": list(clip.size) if clip.size else None,
                "fps": float(clip.fps),
                "fps_exact": fps_text(clip.fps),
            }
        )
    # timings go to the log only: metadata.json is part of a declared output and must not change between runs
    log.info(
        "wrote %d frames to %s in %.1f s (%.3f frames/s; seconds per stage: %s)",
        n,
        out,
        total,
        n / total if total else 0.0,
        ", ".join(f"{k} {v:.3f}" for k, v in colorizer.timings.items()),
    )
    return out / "metadata.json"


def _audio_source(clip: Clip, fps) -> Path | None:
    """The video whose audio the output copies: the input video, unless ``--fps`` gives it another rate."""
    if not clip.is_video:
        return None
    from svcnet.data.frames import video_fps

    if fps is not None and fps != video_fps(clip.source):
        log.warning(
            "--fps %s is not the rate of %s: its audio is left out (it would not stay in sync)", fps, clip.source
        )
        return None
    return clip.source


def _edge_text(config: InferenceConfig) -> str:
    if config.method == "cpnet":
        return "every frame is the CPNet output"
    if config.edge == "official":
        return "first and last 3 frames are CPNet outputs (official); the others SSNet"
    return (
        "every frame refined by SSNet; neighbours beyond the clip mirrored into it; the recurrent input starts "
        "at frame 0 and restarts at frame 3 as the official first window does (clips >= 7 frames)"
    )
