"""Benchmark: time per frame of the `scribbles` and `saliency` stages on the embedded demo clips, every variant in
one run (CPU unless --device cuda). Prints ms/frame of each variant and its ratio to the fastest of its stage.

    python bench/scribbles_saliency.py [--clip dog] [--frames 30] [--device cpu|cuda] [--threads 2]

PFAN runs with random weights (same cost as the real ones) at the port's 256x256 input.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from svcnet.data.frames import list_frames, read_mask, read_rgb
from svcnet.saliency.classical import classical_saliency
from svcnet.scribbles.flow import dis_estimator
from svcnet.scribbles.generate import EvalScribbleSettings, generate_scribbles

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"


def timed(fn, n: int) -> float:
    """ms per frame of ``fn()`` processing ``n`` frames (best of 2 runs)."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 1000 * best / n


def report(stage: str, rows: dict[str, float]) -> None:
    fastest = min(rows.values())
    print(f"\n{stage} (ms/frame, x fastest)")
    for name, ms in rows.items():
        print(f"  {name:<34} {ms:8.1f}   x{ms / fastest:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default="dog")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clip = DEMO / args.clip
    frames = [read_rgb(p) for p in list_frames(clip / "frames")[: args.frames]]
    masks = list_frames(clip / "masks")[: args.frames]
    n = len(frames)
    print(
        f"{args.clip}: {n} frames {frames[0].shape[1]}x{frames[0].shape[0]}, device {args.device}, "
        f"{torch.get_num_threads()} torch threads"
    )

    rows = {}
    for preset in ("medium", "fast", "ultrafast"):
        est = dis_estimator(preset)
        rows[f"DIS {preset} + occlusion check"] = timed(
            lambda est=est: generate_scribbles(frames, EvalScribbleSettings(), est), n
        )
    rows["DIS medium, no occlusion check"] = timed(
        lambda: generate_scribbles(frames, EvalScribbleSettings(occlusion_check=False), dis_estimator()), n
    )
    report("scribbles", rows)

    from svcnet.models.pfan import PFAN
    from svcnet.saliency.pfan import pfan_saliency

    net = PFAN().eval().to(args.device)
    rows = {
        "masks (copy of dataset masks)": timed(lambda: [read_mask(p) > 0 for p in masks], n),
        "spectral_residual": timed(lambda: [classical_saliency(f, "spectral_residual") for f in frames], n),
        "fine_grained": timed(lambda: [classical_saliency(f, "fine_grained") for f in frames], n),
        "PFAN 256x256": timed(lambda: pfan_saliency(net, frames, size=256, batch=4), n),
    }
    report("saliency", rows)


if __name__ == "__main__":
    main()
