"""Evaluation metrics as pure tensor functions (no I/O, CPU or GPU, batched over frames).

* :mod:`fidelity` — PSNR and SSIM exactly as the official video evaluation (skimage conventions, uint8 data range 255).
* :mod:`perceptual` — LPIPS (AlexNet, v0.1) on a network built from an AlexNet state dict.
* :mod:`temporal` — warping error (Lai et al. 2018) and colour distribution consistency CDC (TCVC).
"""

from svcnet.metrics.fidelity import psnr, ssim
from svcnet.metrics.perceptual import build_lpips, lpips_distance
from svcnet.metrics.temporal import cdc, channel_histograms, js_divergence, warping_error

__all__ = [
    "build_lpips",
    "cdc",
    "channel_histograms",
    "js_divergence",
    "lpips_distance",
    "psnr",
    "ssim",
    "warping_error",
]
