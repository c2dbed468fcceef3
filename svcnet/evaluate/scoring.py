"""Scores of one video from uint8 arrays: per-frame fidelity metrics and per-video temporal metrics.

Protocol (spec §5.1, official video evaluation): RGB uint8 at the original resolution, data range 255, skimage-default
SSIM, the first frame of every video excluded; ``*_256p``: both images resized to 448×256 with ``cv2.resize``
(bilinear) first; ``*_lab``: the (a, b) channels of OpenCV's uint8 Lab, compared in floating point (the official script
subtracts and squares uint8 arrays, which wraps modulo 256; we do not reproduce that bug). LPIPS: AlexNet v0.1 on
[-1, 1] inputs. Warping error and CDC use every frame; the warping error's usable-pixel mask is Lai et al.'s
(``reference``) or ``strict`` (:mod:`svcnet.ops.occlusion`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from svcnet.metrics import cdc, lpips_distance, psnr, ssim, warping_error
from svcnet.ops.flow_dis import dis_flow
from svcnet.ops.occlusion import reliable_mask

SIZE_256P = (448, 256)  # (W, H) as cv2.resize takes it
FRAME_METRICS = ("psnr", "ssim", "psnr_lab", "ssim_lab", "psnr_256p", "ssim_256p", "lpips")


@dataclass
class VideoScores:
    """Per-frame values (for the evaluated frames) and the per-video temporal scores."""

    frames: list[int]
    per_frame: dict[str, np.ndarray] = field(default_factory=dict)
    warp_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warp_error: float = float("nan")
    cdc: float = float("nan")


def _nchw(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).to(device)


def _resize_256p(frames: np.ndarray) -> np.ndarray:
    if frames.shape[2] == SIZE_256P[0] and frames.shape[1] == SIZE_256P[1]:
        return frames
    return np.stack([cv2.resize(f, SIZE_256P, interpolation=cv2.INTER_LINEAR) for f in frames])


def _lab_ab(frames: np.ndarray) -> np.ndarray:
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2Lab)[:, :, 1:] for f in frames])


def temporal_flows(
    inputs: np.ndarray, preset: str = "medium", mask: str = "reference"
) -> tuple[torch.Tensor, torch.Tensor]:
    """DIS flows ``flows[t]`` with ``input_t(p) ≈ input_{t+1}(p + flow)`` and their usable-pixel masks (``mask``:
    ``reference`` or ``strict``, see :func:`svcnet.ops.occlusion.reliable_mask`)."""
    bw = [dis_flow(inputs[t], inputs[t + 1], preset) for t in range(len(inputs) - 1)]
    fw = [dis_flow(inputs[t + 1], inputs[t], preset) for t in range(len(inputs) - 1)]
    flow_bw = torch.from_numpy(np.stack(bw)).permute(0, 3, 1, 2).to(torch.float64)
    flow_fw = torch.from_numpy(np.stack(fw)).permute(0, 3, 1, 2).to(torch.float64)
    return flow_bw, reliable_mask(flow_fw, flow_bw, mask)


def score_video(
    pred: np.ndarray,
    gt: np.ndarray,
    device: torch.device,
    lpips_model: torch.nn.Module | None = None,
    exclude_first: bool = True,
    flow_preset: str = "medium",
    batch: int = 8,
    warp_mask: str = "reference",
) -> VideoScores:
    """All metrics of one video (uint8 T×H×W×3 RGB prediction and ground truth of one size)."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ")
    first = 1 if exclude_first and len(gt) > 1 else 0
    scores = VideoScores(frames=list(range(first, len(gt))))
    values: dict[str, list[np.ndarray]] = {k: [] for k in FRAME_METRICS}
    for start in range(first, len(gt), batch):
        p, g = pred[start : start + batch], gt[start : start + batch]
        tp, tg = _nchw(p, device), _nchw(g, device)
        values["psnr"].append(psnr(tp, tg).cpu().numpy())
        values["ssim"].append(ssim(tp, tg).cpu().numpy())
        lp, lg = _nchw(_lab_ab(p), device), _nchw(_lab_ab(g), device)
        values["psnr_lab"].append(psnr(lp, lg).cpu().numpy())
        values["ssim_lab"].append(ssim(lp, lg).cpu().numpy())
        rp, rg = _nchw(_resize_256p(p), device), _nchw(_resize_256p(g), device)
        values["psnr_256p"].append(psnr(rp, rg).cpu().numpy())
        values["ssim_256p"].append(ssim(rp, rg).cpu().numpy())
        if lpips_model is not None:
            values["lpips"].append(lpips_distance(lpips_model, tp.float() / 255.0, tg.float() / 255.0).cpu().numpy())
    scores.per_frame = {k: np.concatenate(v).astype(np.float64) for k, v in values.items() if v}
    if len(gt) > 1:
        pairs = []
        for start in range(0, len(gt) - 1, batch):  # chunks of `batch` consecutive pairs bound the memory
            stop = min(start + batch + 1, len(gt))
            flows, masks = temporal_flows(gt[start:stop], flow_preset, warp_mask)
            frames = _nchw(pred[start:stop], device).double() / 255.0
            pairs.append(warping_error(frames, flows.to(device), masks.to(device)).cpu().numpy())
        scores.warp_pairs = np.concatenate(pairs)
        scores.warp_error = float(np.mean(scores.warp_pairs))
    scores.cdc = cdc(_nchw(pred, device))
    return scores
