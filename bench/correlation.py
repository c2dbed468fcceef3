"""PWC-Net cost volume: the shift loop (``svcnet.ops.correlation.correlation_torch``) vs an ``F.unfold`` gather, and
the CuPy kernel when a GPU is present, on the feature sizes PWC-Net sees at a 256×448 input (levels 2…6).

Prints per size the time of each method, the ratio unfold/loop (and loop/CuPy on CUDA), and the extra memory each
needs (the unfold gather holds a B×C×81×H×W tensor; the loop one B×C×H×W product at a time).

Usage: ``python bench/correlation.py [--device auto|cpu|cuda] [--threads 2] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from svcnet.ops import correlation_cupy
from svcnet.ops.correlation import correlation_torch

SIZES = [(32, 64, 112), (64, 32, 56), (96, 16, 28), (128, 8, 14), (196, 4, 7)]  # (C, H, W) of levels 2…6


def unfold_correlation(first: torch.Tensor, second: torch.Tensor, d: int = 4) -> torch.Tensor:
    b, c, h, w = first.shape
    windows = F.unfold(F.pad(second, (d, d, d, d)), 2 * d + 1).view(b, c, (2 * d + 1) ** 2, h, w)
    return (first.unsqueeze(2) * windows).sum(1) / c


def timed(fn, *args, repeat: int, device: torch.device) -> float:
    fn(*args)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t = time.perf_counter()
    for _ in range(repeat):
        fn(*args)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t) / repeat * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(
        "cuda" if a.device == "auto" and torch.cuda.is_available() else ("cpu" if a.device == "auto" else a.device)
    )
    use_cupy = device.type == "cuda" and correlation_cupy.usable()
    print(f"device {device}, threads {a.threads}, CuPy kernel {'yes' if use_cupy else 'no'}")
    for c, h, w in SIZES:
        g = torch.Generator().manual_seed(0)
        first, second = (torch.randn(1, c, h, w, generator=g).to(device) for _ in range(2))
        loop = timed(correlation_torch, first, second, repeat=a.repeat, device=device)
        unfold = timed(unfold_correlation, first, second, repeat=a.repeat, device=device)
        diff = (correlation_torch(first, second) - unfold_correlation(first, second)).abs().max().item()
        mib = c * h * w * 4 / 2**20
        line = (
            f"C={c:3d} {h:3d}×{w:3d}: loop {loop:8.2f} ms (+{mib:.1f} MiB)  unfold {unfold:8.2f} ms "
            f"(+{81 * mib:.1f} MiB)  unfold/loop {unfold / loop:5.2f}×  max|Δ| {diff:.1e}"
        )
        if use_cupy:
            cu = timed(correlation_cupy.correlation_cupy, first, second, repeat=a.repeat, device=device)
            line += f"  CuPy {cu:7.3f} ms  loop/CuPy {loop / cu:5.1f}×"
        print(line)


if __name__ == "__main__":
    main()
