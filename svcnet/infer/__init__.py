"""Streaming SVCNet inference (see ``streaming.py`` for the algorithm and the edge policy).

Library entry points:

* :func:`colorize_clip` ``(frames, scribbles, models, config) -> iterator of uint8 RGB frames``
* :func:`colorize_results` — the same with float ab results (:class:`FrameResult`), for evaluation code
* :func:`load_models` / :func:`resolve_device` — networks from official checkpoints, flow backend choice
* :func:`colorize_files` — what ``svcnet colorize`` does (folder/video in, atomic output folder out; shots,
  keyframe scribbles, resumable)
* :func:`carry_keyframes` — the scribble of every frame of a shot carried from its keyframes (docs/film.md §2)

Heavy modules are imported lazily, so ``import svcnet.infer`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "colorize_clip": "svcnet.infer.api",
    "colorize_results": "svcnet.infer.api",
    "InferenceConfig": "svcnet.infer.streaming",
    "Models": "svcnet.infer.streaming",
    "FrameInput": "svcnet.infer.streaming",
    "FrameResult": "svcnet.infer.streaming",
    "StreamingColorizer": "svcnet.infer.streaming",
    "stream_colorize": "svcnet.infer.streaming",
    "load_models": "svcnet.infer.models",
    "resolve_device": "svcnet.ops.device",
    "WeightOptions": "svcnet.infer.models",
    "colorize_files": "svcnet.infer.run",
    "carry_keyframes": "svcnet.infer.keyframes",
    "ColorizeRequest": "svcnet.infer.run",
    "official_windowed_loop": "svcnet.infer.official_loop",
    "pwc_backend": "svcnet.infer.flow",
    "dis_backend": "svcnet.infer.flow",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'svcnet.infer' has no attribute {name!r}")
