"""Per-frame tensors for inference and the final RGB frame, through the official preprocessing in ``svcnet.ops.lab``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from svcnet.infer.streaming import FrameInput
from svcnet.ops.lightness import DEFAULT_LIGHTNESS


def frame_tensors(
    rgb: np.ndarray, work_size: tuple[int, int], transform: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(L8/255 1×1×H×W of the cubic resize — CPNet and flow input; L*−50 1×1×H×W of the PIL bilinear resize —
    CorrNet input, None when ``transform`` is False) for one uint8 RGB frame."""
    from svcnet.ops import lab

    l8, _ = lab.preprocess_frame(rgb, work_size)
    tl = lab.transform_l(rgb, work_size) if transform else None
    return l8, tl


def scribble_tensor(rgb: np.ndarray, work_size: tuple[int, int]) -> torch.Tensor:
    """cv2-Lab ab/255 (1×2×H×W) of a uint8 RGB scribble image (black = no scribble → neutral 128/255)."""
    from svcnet.ops import lab

    return lab.preprocess_scribble(rgb, work_size)


def frame_input(
    rgb: np.ndarray,
    scribble: np.ndarray | None,
    work_size: tuple[int, int],
    transform: bool = True,
    payload: Any = None,
) -> FrameInput:
    """The streaming input of one uint8 RGB frame and its uint8 RGB scribble image (None: no scribble of its own,
    the carrier's is used); ``transform`` as in :func:`frame_tensors`."""
    l8, tl = frame_tensors(rgb, work_size, transform=transform)
    ab = scribble_tensor(scribble, work_size) if scribble is not None else None
    return FrameInput(l8, tl, ab, payload=payload)


def compose_rgb(ab: torch.Tensor, original_rgb: np.ndarray, lightness: str = DEFAULT_LIGHTNESS) -> np.ndarray:
    """uint8 RGB at the original frame's size from a 1×2×h×w ab result (official resize, Lab→RGB)."""
    from svcnet.ops import lab

    return lab.compose_output(ab, original_rgb, lightness=lightness)
