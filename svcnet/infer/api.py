"""Library entry points: colourise a clip held in memory (iterables of uint8 RGB arrays), frame by frame."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from svcnet.infer.carry import ScribbleCarrier
from svcnet.infer.preprocess import compose_rgb, frame_input, scribble_tensor
from svcnet.infer.streaming import FrameInput, FrameResult, InferenceConfig, Models, StreamingColorizer


def _inputs(
    frames: Iterable[np.ndarray], scribbles: Iterable[np.ndarray] | None, config: InferenceConfig
) -> Iterator[FrameInput]:
    scribble_it = iter(scribbles) if scribbles is not None else None
    for i, rgb in enumerate(frames):
        scribble = None
        if scribble_it is not None:
            try:
                scribble = next(scribble_it)
            except StopIteration:
                from svcnet.errors import InputError

                raise InputError(f"scribble count mismatch: no scribble for frame {i}") from None
        yield frame_input(rgb, scribble, config.work_size, transform=config.method == "svcnet", payload=rgb)


def colorize_results(
    frames: Iterable[np.ndarray],
    scribbles: Iterable[np.ndarray] | np.ndarray,
    models: Models,
    config: InferenceConfig = InferenceConfig(),
) -> Iterator[FrameResult]:
    """Streaming results (float ab at the working or ×2 size, ``payload`` = the input frame) for every frame.

    ``scribbles``: one uint8 RGB scribble image per frame (black = none), or a single H×W×3 array for the first frame
    that is carried to later frames along ``models.flow``.
    """
    carrier = None
    per_frame: Iterable[np.ndarray] | None = None
    if isinstance(scribbles, np.ndarray):
        carrier = ScribbleCarrier(scribbles, config.work_size, scribble_tensor)
    else:
        per_frame = scribbles
    return StreamingColorizer(models, config, carrier).run(_inputs(frames, per_frame, config))


def colorize_clip(
    frames: Iterable[np.ndarray],
    scribbles: Iterable[np.ndarray] | np.ndarray,
    models: Models,
    config: InferenceConfig = InferenceConfig(),
) -> Iterator[np.ndarray]:
    """Colourised uint8 RGB frames at each input frame's size, in order (see :func:`colorize_results`)."""
    for res in colorize_results(frames, scribbles, models, config):
        yield compose_rgb(res.ab, res.payload, config.lightness)
