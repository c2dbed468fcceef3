"""PSNR and SSIM with scikit-image's conventions, batched in torch.

Both take B×C×H×W tensors of any real dtype holding values on the scale of ``data_range`` (the official protocol:
uint8 RGB, ``data_range=255``) and return one value per image (B,). They match
``skimage.metrics.peak_signal_noise_ratio`` and ``structural_similarity(..., channel_axis=-1)`` with the defaults
(7×7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance, borders of (win-1)/2 pixels excluded, mean over
channels). Computation is in float64 unless ``dtype`` says otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _pair(pred: torch.Tensor, target: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(
            f"expected two B×C×H×W tensors of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    return pred.to(dtype), target.to(dtype)


def _box_mean_valid(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean over every k×k window fully inside the image (last two dims), via cumulative sums (float64-exact enough)."""
    c = F.pad(x.cumsum(-2), (0, 0, 1, 0))
    x = c[..., k:, :] - c[..., :-k, :]
    c = F.pad(x.cumsum(-1), (1, 0))
    return (c[..., k:] - c[..., :-k]) / (k * k)


def psnr(
    pred: torch.Tensor, target: torch.Tensor, data_range: float = 255.0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Peak signal-to-noise ratio per image (B,), in dB; ``inf`` for identical images."""
    p, t = _pair(pred, target, dtype)
    mse = ((p - t) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10((data_range**2) / mse)


def _ssim_map_mean(p: torch.Tensor, t: torch.Tensor, win_size: int, c1: float, c2: float) -> torch.Tensor:
    ux, uy = _box_mean_valid(p, win_size), _box_mean_valid(t, win_size)
    uxx, uyy, uxy = (
        _box_mean_valid(p * p, win_size),
        _box_mean_valid(t * t, win_size),
        _box_mean_valid(p * t, win_size),
    )
    n = win_size * win_size
    cov_norm = n / (n - 1.0)  # sample covariance, as skimage's default
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(2, 3)).mean(dim=1)


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 255.0,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Mean structural similarity per image (B,), uniform ``win_size`` window, averaged over channels."""
    if win_size % 2 != 1 or min(pred.shape[-2:]) < win_size:
        raise ValueError(f"win_size must be odd and at most the image side, got {win_size} for {tuple(pred.shape)}")
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    # Only window positions fully inside the image count (skimage crops (win-1)/2 on each side), so a valid box
    # filter gives exactly those values. On the CPU one image at a time keeps the float64 temporaries in cache.
    step = pred.shape[0] if pred.device.type != "cpu" else 1
    out = [
        _ssim_map_mean(*_pair(pred[i : i + step], target[i : i + step], dtype), win_size, c1, c2)
        for i in range(0, pred.shape[0], step)
    ]
    return torch.cat(out) if out else torch.zeros(0, dtype=dtype, device=pred.device)
