"""``svcnet baseline``: the grayscale and Levin et al. (2004) baselines, written like ``svcnet colorize`` output
(``OUT/frames/<frame>.png``, ``colorized.mp4``, ``metadata.json``; one atomic folder, a finished run is skipped)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from svcnet.errors import InputError
from svcnet.evaluate.levin import gray_frame, levin_colorize
from svcnet.infer.inputs import open_clip, open_scribbles
from svcnet.infer.writers import METADATA, clip_output

log = logging.getLogger(__name__)

TOOL = "svcnet baseline"
METHODS = ("gray", "levin")


@dataclass(frozen=True)
class BaselineRequest:
    """Everything a baseline run depends on (compared with a finished run's to skip a re-run)."""

    method: str
    input: str
    scribbles: str | None = None
    work_size: tuple[int, int] = (256, 448)  # H, W the scribbles may have besides the frame size
    max_frames: int | None = None
    fps: float | None = None
    video: bool = True


def _finished(out: Path, request: BaselineRequest) -> bool:
    meta = out / METADATA
    if not meta.is_file():
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise InputError(f"output {out} exists and is not an earlier '{TOOL}' output; choose another --out")
        return False
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return False
    if data.get("tool") != TOOL:
        raise InputError(f"output {out} holds another tool's output ({data.get('tool')}); choose another --out")
    return data.get("request") == json.loads(json.dumps(asdict(request)))


def _scribble_for_frame(scribble: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A scribble at the frame size (nearest-neighbour when it was drawn at the working size)."""
    if scribble.shape[:2] == tuple(size):
        return scribble
    return cv2.resize(scribble, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def run_baseline(request: BaselineRequest, out: str | Path, force: bool = False, progress: bool = True) -> Path:
    """Run the ``gray`` or ``levin`` baseline on a clip; returns the metadata path."""
    from tqdm import tqdm

    from svcnet import __version__

    if request.method not in METHODS:
        raise InputError(
            f"unknown baseline {request.method!r}; choose {' or '.join(METHODS)} "
            f"(CPNet and SVCNet: svcnet colorize --method cpnet|svcnet)"
        )
    out = Path(out)
    if not force and _finished(out, request):
        log.info("%s is up to date", out)
        return out / METADATA
    clip = open_clip(request.input, limit=request.max_frames, fps=request.fps)
    scribbles = None
    if request.method == "levin":
        if request.scribbles is None:
            raise InputError("the levin baseline needs --scribbles (a folder of per-frame scribble images)")
        scribbles = open_scribbles(request.scribbles, clip, tuple(request.work_size))
        if scribbles.carried:
            raise InputError(
                f"the levin baseline needs one scribble per frame; {request.scribbles} is a single "
                f"image (give a folder of <frame>_256p.png files)"
            )
    start = time.perf_counter()
    with clip_output(out, clip.fps, request.video) as writer:
        for name, rgb in tqdm(clip.frames(), total=clip.count, desc=request.method, unit="frame", disable=not progress):
            if scribbles is None:
                result = gray_frame(rgb)
            else:
                result = levin_colorize(rgb, _scribble_for_frame(scribbles.read(name), rgb.shape[:2]))
            writer.add(name, result)
        writer.finish(
            {
                "tool": TOOL,
                "version": __version__,
                "method": request.method,
                "request": asdict(request),
                "input": str(request.input),
                "scribbles": request.scribbles,
            }
        )
    # the time goes to the log only: metadata.json is part of a declared output and must not change between runs
    log.info("%s: %d frames in %.3f s", request.method, len(writer.names), time.perf_counter() - start)
    return out / METADATA
