"""Per-sample preprocessing shared by the CPNet and SSNet training sets (numpy, in DataLoader workers).

Frames become the official tensors (docs/official.md §3.3): cv2 INTER_CUBIC resize to the training size, RGB→Lab8,
L/255 and ab/255; seg maps grayscale INTER_CUBIC /255. An optional random region (the same for all frames of a
window) is cut first, so CPU profiles can train at a reduced size without changing the image scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def random_region(shape: Sequence[int], crop: Sequence[int], rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a uniformly placed ``crop`` region inside an image of ``shape`` (H, W, ...);
    the whole image when ``crop`` is empty or larger."""
    h, w = int(shape[0]), int(shape[1])
    if not crop:
        return 0, 0, h, w
    ch, cw = min(int(crop[0]), h), min(int(crop[1]), w)
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return top, left, ch, cw


def cut_resize(img: np.ndarray, region: tuple[int, int, int, int], size: Sequence[int]) -> np.ndarray:
    """Cut ``region`` out of ``img`` and resize it to ``size`` = (H, W) with cv2 INTER_CUBIC (no-op when equal)."""
    top, left, h, w = region
    img = img[top : top + h, left : left + w]
    if img.shape[:2] != (size[0], size[1]):
        img = cv2.resize(img, (int(size[1]), int(size[0])), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(img)


def rgb_to_l_ab(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 H×W×3 RGB → (L8/255 as 1×H×W, ab8/255 as 2×H×W) float32 — CPNet's input and target convention."""
    from svcnet.ops.lab import rgb_to_lab8

    lab = rgb_to_lab8(rgb).astype(np.float32) / np.float32(255.0)
    return lab[None, :, :, 0].copy(), lab.transpose(2, 0, 1)[1:].copy()


def seg_target(gray: np.ndarray, region: tuple[int, int, int, int], size: Sequence[int]) -> np.ndarray:
    """A uint8 saliency map or mask → 1×H×W float32 in [0, 1] (INTER_CUBIC, clipped)."""
    out = cut_resize(gray, region, size).astype(np.float32) / np.float32(255.0)
    return np.clip(out, 0.0, 1.0)[None]
