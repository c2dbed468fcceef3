"""Occlusion and motion-boundary masks from forward/backward flows (Ruder et al. 2016, used by Lai et al. 2018).

Two masks of usable pixels for the warping error (``reliable_mask``'s ``variant``):

* ``reference`` — exactly the mask of Lai et al.'s code (``utils.detect_occlusion`` of fast_blind_video_consistency):
  a pixel is unusable when it fails the forward–backward check or lies on a motion boundary. A pixel whose flow
  leaves the frame stays usable; the warp compares it with the border-clamped sample.
* ``strict`` — additionally drops pixels whose flow leaves the frame (their border-clamped sample is not the pixel's
  true correspondence).
"""

from __future__ import annotations

import torch

from svcnet.ops.warp import inside_mask, warp_by_flow

MASK_VARIANTS = ("reference", "strict")


def _sq_norm(flow: torch.Tensor) -> torch.Tensor:
    return (flow**2).sum(1, keepdim=True)


def inconsistent_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor) -> torch.Tensor:
    """B×1×H×W mask, 1 where ``flow_bw`` fails the forward–backward check.

    ``flow_bw`` maps the target frame into the source (``target(p) ≈ source(p + flow_bw(p))``), ``flow_fw`` the
    source into the target. A target pixel fails when ``|fw(p + bw) + bw|² > 0.01 (|fw(p + bw)|² + |bw|²) + 0.5``,
    ``fw(p + bw)`` sampled bilinearly with border clamping.
    """
    fw_at = warp_by_flow(flow_fw, flow_bw, padding_mode="border")
    inconsistent = _sq_norm(fw_at + flow_bw) > 0.01 * (_sq_norm(fw_at) + _sq_norm(flow_bw)) + 0.5
    return inconsistent.to(flow_bw.dtype)


def occlusion_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor) -> torch.Tensor:
    """B×1×H×W mask, 1 where ``flow_bw`` is occluded: it fails the forward–backward check
    (:func:`inconsistent_mask`) or ``p + bw`` leaves the image."""
    outside = inside_mask(flow_bw) < 0.5
    return ((inconsistent_mask(flow_fw, flow_bw) > 0) | outside).to(flow_bw.dtype)


def motion_boundary_mask(flow: torch.Tensor) -> torch.Tensor:
    """B×1×H×W mask, 1 on motion boundaries: ``|∇u|² + |∇v|² > 0.01 |flow|² + 0.002`` (forward differences)."""
    dx = torch.zeros_like(flow)
    dy = torch.zeros_like(flow)
    dx[..., :, :-1] = flow[..., :, 1:] - flow[..., :, :-1]
    dy[..., :-1, :] = flow[..., 1:, :] - flow[..., :-1, :]
    grad = (dx**2 + dy**2).sum(1, keepdim=True)
    return (grad > 0.01 * _sq_norm(flow) + 0.002).to(flow.dtype)


def reliable_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor, variant: str = "reference") -> torch.Tensor:
    """1 where the backward flow is usable: it passes the forward–backward check and is not on a motion boundary
    (``reference``, Lai et al.), and with ``strict`` also stays inside the image (see the module docstring)."""
    if variant not in MASK_VARIANTS:
        raise ValueError(f"unknown warping-error mask {variant!r}; choose one of {', '.join(MASK_VARIANTS)}")
    unusable = occlusion_mask if variant == "strict" else inconsistent_mask
    bad = (unusable(flow_fw, flow_bw) + motion_boundary_mask(flow_bw)) > 0
    return (~bad).to(flow_bw.dtype)
