"""Occlusion and motion-boundary masks from forward/backward flows (Ruder et al. 2016, used by Lai et al. 2018)."""

from __future__ import annotations

import torch

from svcnet.ops.warp import inside_mask, warp_by_flow


def _sq_norm(flow: torch.Tensor) -> torch.Tensor:
    return (flow**2).sum(1, keepdim=True)


def occlusion_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor) -> torch.Tensor:
    """B×1×H×W mask, 1 where ``flow_bw`` is occluded (forward–backward inconsistent).

    ``flow_bw`` maps the target frame into the source (``target(p) ≈ source(p + flow_bw(p))``), ``flow_fw`` the
    source into the target. A target pixel is occluded when
    ``|fw(p + bw) + bw|² > 0.01 (|fw(p + bw)|² + |bw|²) + 0.5`` or when ``p + bw`` leaves the image.
    """
    fw_at = warp_by_flow(flow_fw, flow_bw, padding_mode="border")
    inconsistent = _sq_norm(fw_at + flow_bw) > 0.01 * (_sq_norm(fw_at) + _sq_norm(flow_bw)) + 0.5
    outside = inside_mask(flow_bw) < 0.5
    return (inconsistent | outside).to(flow_bw.dtype)


def motion_boundary_mask(flow: torch.Tensor) -> torch.Tensor:
    """B×1×H×W mask, 1 on motion boundaries: ``|∇u|² + |∇v|² > 0.01 |flow|² + 0.002`` (forward differences)."""
    dx = torch.zeros_like(flow)
    dy = torch.zeros_like(flow)
    dx[..., :, :-1] = flow[..., :, 1:] - flow[..., :, :-1]
    dy[..., :-1, :] = flow[..., 1:, :] - flow[..., :-1, :]
    grad = (dx**2 + dy**2).sum(1, keepdim=True)
    return (grad > 0.01 * _sq_norm(flow) + 0.002).to(flow.dtype)


def reliable_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor) -> torch.Tensor:
    """1 where the backward flow is usable: neither occluded nor on a motion boundary."""
    bad = (occlusion_mask(flow_fw, flow_bw) + motion_boundary_mask(flow_bw)) > 0
    return (~bad).to(flow_bw.dtype)
