"""OpenCV DIS optical flow: the weight-free flow backend (no checkpoint needed)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _gray_u8(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if img.dtype != np.uint8:
        img = np.clip(np.round(img.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def dis_flow(first: np.ndarray, second: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Flow (H×W×2 float32, x then y, pixels) with ``first(p) ≈ second(p + flow(p))``.

    ``first``/``second``: uint8 RGB or gray images, or float gray in [0, 1], of equal size. Backward-warping
    ``second`` by the result (``svcnet.ops.warp.warp_by_flow``) aligns it with ``first``.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; choose one of {sorted(PRESETS)}")
    a, b = _gray_u8(first), _gray_u8(second)
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape} vs {b.shape}")
    dis = cv2.DISOpticalFlow_create(PRESETS[preset])
    return dis.calc(a, b, None)


def dis_flow_tensor(first: torch.Tensor, second: torch.Tensor, preset: str = "medium") -> torch.Tensor:
    """Batched :func:`dis_flow` on B×C×H×W tensors in [0, 1] (C = 1 or 3, C = 3 taken as RGB); returns B×2×H×W."""
    flows = []
    for a, b in zip(first, second):
        na = a.detach().float().cpu().permute(1, 2, 0).numpy()
        nb = b.detach().float().cpu().permute(1, 2, 0).numpy()
        na = na[:, :, 0] if na.shape[2] == 1 else (na * 255.0).round().clip(0, 255).astype(np.uint8)
        nb = nb[:, :, 0] if nb.shape[2] == 1 else (nb * 255.0).round().clip(0, 255).astype(np.uint8)
        flows.append(torch.from_numpy(dis_flow(na, nb, preset)).permute(2, 0, 1))
    return torch.stack(flows).to(first.device)
