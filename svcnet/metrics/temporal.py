"""Temporal-consistency metrics: warping error (Lai et al., ECCV 2018) and CDC (Liu et al., TCVC).

Warping error (as ``evaluate_WarpError.py`` of Lai et al. computes it): for each pair of consecutive frames, the
output frame t+1 is backward-warped onto frame t with the optical flow of the *input* frames (bilinear, border
clamped), and the squared difference is summed over the usable pixels and the channels and divided by their number
(usable pixels × channels); a pair without a usable pixel scores 0, as in the reference. The caller computes flows
and masks (e.g. OpenCV DIS and ``svcnet.ops.occlusion.reliable_mask``); the video score is the mean over all pairs.

CDC (colour distribution consistency): per-channel 256-bin histograms of each uint8 frame, Jensen–Shannon
divergence (natural log, as TCVC's scipy ``entropy``) between frames ``d`` apart for d = 1, 2, 4, averaged over
frames, weighted 1/3 each, averaged over channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from svcnet.ops.warp import warp_by_flow


def warping_error(frames: torch.Tensor, flows: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Masked MSE per consecutive pair ((T-1,); 0 for a pair without a usable pixel, as the reference counts it).

    ``frames``: T×C×H×W output video in [0, 1]. ``flows``: (T-1)×2×H×W, ``flows[t]`` with
    ``input_t(p) ≈ input_{t+1}(p + flows[t](p))``. ``masks``: (T-1)×1×H×W, 1 where the flow is reliable.
    """
    t = frames.shape[0]
    if t < 2 or flows.shape[0] != t - 1 or masks.shape[0] != t - 1:
        raise ValueError(f"need T >= 2 frames with T-1 flows and masks, got {t}, {flows.shape[0]}, {masks.shape[0]}")
    x = frames.to(torch.float64)
    warped = warp_by_flow(x[1:], flows.to(torch.float64), padding_mode="border")
    m = masks.to(torch.float64)
    sq = ((warped - x[:-1]) ** 2 * m).sum(dim=(1, 2, 3))
    count = m.sum(dim=(1, 2, 3)) * frames.shape[1]
    return torch.where(count > 0, sq / count.clamp_min(1), torch.zeros_like(sq))


def channel_histograms(frames: torch.Tensor, bins: int = 256) -> torch.Tensor:
    """Normalised per-channel histograms (T×C×bins, float64) of integer-valued frames T×C×H×W in [0, bins)."""
    t, c = frames.shape[:2]
    values = frames.reshape(t * c, -1).to(torch.int64)
    if values.numel() and (values.min() < 0 or values.max() >= bins):
        raise ValueError(f"frame values must lie in [0, {bins})")
    offsets = torch.arange(t * c, device=values.device).unsqueeze(1) * bins
    counts = torch.bincount((values + offsets).flatten(), minlength=t * c * bins).reshape(t, c, bins)
    return counts.to(torch.float64) / values.shape[1]


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon divergence (natural log) along the last dimension of two distributions (0 log 0 = 0)."""
    p = p.to(torch.float64)
    q = q.to(torch.float64)
    m = (p + q) / 2

    def kl(a: torch.Tensor) -> torch.Tensor:
        ratio = torch.where(a > 0, a / m.where(m > 0, torch.ones_like(m)), torch.ones_like(a))
        return (a * torch.log(ratio)).sum(dim=-1)

    return 0.5 * kl(p) + 0.5 * kl(q)


def cdc(frames: torch.Tensor, dilations: Sequence[int] = (1, 2, 4), weights: Sequence[float] | None = None) -> float:
    """CDC of one uint8-valued video T×C×H×W (lower is more consistent); nan when T <= max(dilations)."""
    weights = list(weights) if weights is not None else [1.0 / len(dilations)] * len(dilations)
    if len(weights) != len(dilations):
        raise ValueError("one weight per dilation")
    hist = channel_histograms(frames)
    t = hist.shape[0]
    per_channel = torch.zeros(hist.shape[1], dtype=torch.float64, device=hist.device)
    for d, w in zip(dilations, weights):
        if t <= d:
            return float("nan")
        per_channel += w * js_divergence(hist[:-d], hist[d:]).mean(dim=0)
    return float(per_channel.mean())
