"""Carry one first-frame scribble image to every later frame along the flow (inference).

The scribble is brought to the working size once (the official cubic resize), then frame by frame backward-warped
with the flow that aligns frame t-1 with frame t (``FlowBackend.align(t, t-1)``), nearest-neighbour sampling (colours
are never blended) and black outside the image, so a scribble that leaves the picture disappears. Each carried image
then goes through the official scribble preprocessing (black = no scribble).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

from svcnet.infer.flow import FlowBackend
from svcnet.ops.warp import warp_by_flow


def to_work_size(rgb: np.ndarray, work_size: tuple[int, int]) -> np.ndarray:
    """The official resize of an image to the working size (cv2 INTER_CUBIC; an exact copy when already that size)."""
    h, w = work_size
    return rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC)


class ScribbleCarrier:
    """Callable ``(index, lightness, flow_backend) -> scribble ab`` for frames read in order from 0."""

    def __init__(
        self,
        first_rgb: np.ndarray,
        work_size: tuple[int, int],
        to_ab: Callable[[np.ndarray, tuple[int, int]], torch.Tensor],
    ) -> None:
        self._first = to_work_size(first_rgb, work_size)
        self._work_size = work_size
        self._to_ab = to_ab
        self._current: torch.Tensor | None = None  # 1×3×H×W float RGB 0…255 of the last frame
        self._index = -1
        self.images: int = 0

    def image(self, index: int, flow: FlowBackend | None) -> np.ndarray:
        """The carried uint8 RGB scribble of frame ``index`` (frames must be asked for in order 0, 1, 2, …)."""
        if index != self._index + 1:
            raise ValueError(f"scribbles are carried frame by frame: asked for {index} after {self._index}")
        if index == 0:
            self._current = torch.from_numpy(self._first).permute(2, 0, 1).unsqueeze(0).float()
        else:
            if flow is None:
                raise ValueError("carrying a scribble needs a flow backend")
            f = flow.align(index, index - 1)
            self._current = warp_by_flow(
                self._current.to(f.device), f.to(torch.float32), padding_mode="zeros", mode="nearest"
            )
        self._index = index
        self.images += 1
        return self._current[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()

    def __call__(self, index: int, lightness: torch.Tensor, flow: FlowBackend | None) -> torch.Tensor:
        return self._to_ab(self.image(index, flow), self._work_size)
