"""Backward warping by optical flow (pure tensor functions).

Convention for every flow here: ``flow`` is B×2×H×W in pixels, channel 0 horizontal (x), channel 1 vertical (y), and
warping samples the source at the displaced position: ``out(p) = src(p + flow(p))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _pixel_grid(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sampling grid (B×H×W×2, normalised to [-1, 1] with align_corners=True) for ``p + flow(p)``."""
    b = flow.shape[0]
    ys = torch.arange(height, device=flow.device, dtype=flow.dtype).view(1, height, 1).expand(b, height, width)
    xs = torch.arange(width, device=flow.device, dtype=flow.dtype).view(1, 1, width).expand(b, height, width)
    gx = (xs + flow[:, 0]) * (2.0 / max(width - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(height - 1, 1)) - 1.0
    return torch.stack((gx, gy), dim=3)


def warp_by_flow(
    src: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border", mode: str = "bilinear"
) -> torch.Tensor:
    """Backward-warp ``src`` (B×C×H×W) by ``flow`` (B×2×H×W): ``out(p) = src(p + flow(p))``.

    Integer flows reproduce the shifted image exactly. ``padding_mode`` is ``'border'`` or ``'zeros'``.
    """
    if flow.shape[-2:] != src.shape[-2:] or flow.shape[1] != 2:
        raise ValueError(f"flow {tuple(flow.shape)} does not match image {tuple(src.shape)}")
    grid = _pixel_grid(flow, src.shape[-2], src.shape[-1])
    return F.grid_sample(src, grid.to(src.dtype), mode=mode, padding_mode=padding_mode, align_corners=True)


def inside_mask(flow: torch.Tensor) -> torch.Tensor:
    """B×1×H×W mask, 1 where ``p + flow(p)`` falls inside the image."""
    h, w = flow.shape[-2:]
    ys = torch.arange(h, device=flow.device, dtype=flow.dtype).view(1, h, 1)
    xs = torch.arange(w, device=flow.device, dtype=flow.dtype).view(1, 1, w)
    x = xs + flow[:, 0]
    y = ys + flow[:, 1]
    return ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).unsqueeze(1).to(flow.dtype)


def warp_official(src: torch.Tensor, flow: torch.Tensor, gcs: bool = False) -> torch.Tensor:
    """The official SVCNet/PWC-Net backward warp (``PWCNetBackward``), reproduced for numeric parity.

    Grid from ``linspace(-1, 1)``, flow divided by ``(size - 1) / 2``, a ones channel sampled alongside,
    bilinear border-padded ``grid_sample`` with ``align_corners=True``, output multiplied by (sampled ones > 0.999).
    ``gcs``: the variant of the official scribble generator (``GCS/pwcnet.py``): nearest sampling, zero padding.
    """
    b, _, h, w = src.shape
    horizontal = torch.linspace(-1.0, 1.0, w, device=src.device, dtype=src.dtype).view(1, 1, 1, w).expand(b, -1, h, -1)
    vertical = torch.linspace(-1.0, 1.0, h, device=src.device, dtype=src.dtype).view(1, 1, h, 1).expand(b, -1, -1, w)
    base = torch.cat((horizontal, vertical), 1)
    scaled = torch.cat((flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)), 1)
    ones = src.new_ones(b, 1, h, w)
    sampled = F.grid_sample(
        torch.cat((src, ones), 1),
        (base + scaled).permute(0, 2, 3, 1),
        mode="nearest" if gcs else "bilinear",
        padding_mode="zeros" if gcs else "border",
        align_corners=True,
    )
    valid = (sampled[:, -1:] > 0.999).to(src.dtype)
    return sampled[:, :-1] * valid
