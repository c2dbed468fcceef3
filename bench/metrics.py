"""Benchmark: PSNR + SSIM of svcnet.metrics (batched torch, CPU or CUDA) vs a per-frame scikit-image loop like the
official evaluation scripts, on the same frames in one run. Prints frames/s of both and their ratio.

    python bench/metrics.py [--frames 96] [--device auto|cpu|cuda] [--batch 32]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from svcnet.data.frames import list_frames, read_rgb
from svcnet.metrics import psnr, ssim

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"


def frames(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n real demo frames (448x256) and a perturbed copy."""
    files = [f for clip in sorted(DEMO.iterdir()) for f in list_frames(clip / "frames")]
    gt = np.stack([read_rgb(files[i % len(files)]) for i in range(n)])
    rng = np.random.default_rng(0)
    pred = np.clip(gt.astype(np.int16) + rng.integers(-12, 13, gt.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    return pred, gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    pred, gt = frames(args.frames)

    t = time.perf_counter()
    ref = [(peak_signal_noise_ratio(g, p), structural_similarity(g, p, channel_axis=2)) for p, g in zip(pred, gt)]
    t_ref = time.perf_counter() - t

    tp = torch.from_numpy(pred).permute(0, 3, 1, 2)
    tg = torch.from_numpy(gt).permute(0, 3, 1, 2)
    if device.type == "cuda":  # warm-up (kernels, allocator) outside the timing
        psnr(tp[:2].to(device), tg[:2].to(device)), ssim(tp[:2].to(device), tg[:2].to(device))
        torch.cuda.synchronize()
    t = time.perf_counter()
    ours_p, ours_s = [], []
    for i in range(0, len(pred), args.batch):  # includes the host-to-device copy, as in `svcnet evaluate`
        a, b = tp[i : i + args.batch].to(device), tg[i : i + args.batch].to(device)
        ours_p.append(psnr(a, b).cpu())
        ours_s.append(ssim(a, b).cpu())
    if device.type == "cuda":
        torch.cuda.synchronize()
    t_ours = time.perf_counter() - t

    err_p = np.abs(torch.cat(ours_p).numpy() - np.array([r[0] for r in ref])).max()
    err_s = np.abs(torch.cat(ours_s).numpy() - np.array([r[1] for r in ref])).max()
    n = len(pred)
    print(f"{n} frames {gt.shape[2]}x{gt.shape[1]}, device {device}, torch threads {torch.get_num_threads()}")
    print(f"skimage per-frame loop : {n / t_ref:8.1f} frames/s")
    print(f"svcnet.metrics batched: {n / t_ours:8.1f} frames/s")
    print(f"ratio                 : {t_ref / t_ours:8.2f}x  (max |diff| psnr {err_p:.2e}, ssim {err_s:.2e})")


if __name__ == "__main__":
    main()
