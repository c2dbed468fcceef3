"""Levin et al. 2004 baseline: seconds of one CPU core per 448×256 frame, our solver vs plain SuperLU orderings.

Same frames (the demo clips), same scribbles (4×4 squares of the ground-truth colour, like `svcnet scribbles`), one
run: ``svcnet.evaluate.levin.levin_colorize`` (float32 SuperLU, nested-dissection order, no pivoting) against
``scipy.sparse.linalg.splu`` on the same float64 matrix with its own column orderings (COLAMD, the scipy default,
and MMD_AT_PLUS_A). Times are process CPU seconds with one thread (budget: <= 0.5 s per frame), and
the largest chrominance difference to the float64 COLAMD solve is printed.

Usage: ``OMP_NUM_THREADS=1 python bench/levin.py [--frames 4] [--scribbles 40]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skimage.color import rgb2yiq

from svcnet.data.frames import list_frames, read_rgb
from svcnet.evaluate import levin

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"


def scribbles_for(gt: np.ndarray, n: int, rng: np.random.Generator, size: int = 4) -> np.ndarray:
    s = np.zeros_like(gt)
    for _ in range(n):
        y, x = rng.integers(0, gt.shape[0] - size), rng.integers(0, gt.shape[1] - size)
        s[y : y + size, x : x + size] = np.maximum(gt[y : y + size, x : x + size].reshape(-1, 3).mean(0).round(), 1)
    return s


def plain_system(y: np.ndarray, marked: np.ndarray, values: np.ndarray) -> tuple[sp.csc_matrix, np.ndarray]:
    """The same equations in row-major pixel order, float64, no screening term."""
    h, w = y.shape
    pix = np.arange(h * w).reshape(h, w)
    wts = levin.affinities(y)
    free = ~marked
    rows, cols, vals = [pix.ravel()], [pix.ravel()], [np.ones(h * w)]
    for k, (dy, dx) in enumerate(levin.OFFSETS):
        keep = free & (wts[k] > 0)
        rows.append(pix[keep])
        cols.append(levin._shifted(pix, dy, dx)[keep])
        vals.append(-wts[k][keep])
    a = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w))
    rhs = np.zeros((h * w, values.shape[-1]))
    rhs[marked.ravel()] = values[marked]
    return a, rhs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=4, help="frames (from the demo clips, in turn)")
    ap.add_argument("--scribbles", type=int, default=40, help="4×4 scribble squares per frame")
    a = ap.parse_args()
    clips = sorted(p for p in DEMO.iterdir() if p.is_dir())
    frames = [read_rgb(list_frames(clips[i % len(clips)] / "frames")[i // len(clips)]) for i in range(a.frames)]
    rng = np.random.default_rng(0)
    cases = [(f, scribbles_for(f, a.scribbles, rng)) for f in frames]
    levin.nested_dissection_order(*frames[0].shape[:2])  # cached per size: not part of a frame's time
    times: dict[str, list[float]] = {
        "svcnet levin_colorize (whole frame)": [],
        "splu COLAMD float64": [],
        "splu MMD_AT_PLUS_A float64": [],
    }
    worst = 0.0
    for gt, s in cases:
        t = time.process_time()
        levin.levin_colorize(gt, s)
        times["svcnet levin_colorize (whole frame)"].append(time.process_time() - t)
        y, marked, values = rgb2yiq(gt)[..., 0], s.max(-1) > 0, rgb2yiq(s)[..., 1:]
        ours = levin.solve_chrominance(y, marked, values)
        a_mat, rhs = plain_system(y, marked, values)
        for spec in ("COLAMD", "MMD_AT_PLUS_A"):
            t = time.process_time()
            x = spla.splu(a_mat, permc_spec=spec).solve(rhs)
            times[f"splu {spec} float64"].append(time.process_time() - t)
            if spec == "COLAMD":
                worst = max(worst, float(np.abs(x.reshape(ours.shape) - ours).max()))
    h, w = frames[0].shape[:2]
    print(f"{len(cases)} frames {w}x{h}, {a.scribbles} scribble squares each; CPU seconds per frame (1 thread)")
    base = np.median(times["svcnet levin_colorize (whole frame)"])
    for name, ts in times.items():
        med = float(np.median(ts))
        print(f"  {name:38s} median {med:6.3f} s  max {max(ts):6.3f} s  ({med / base:4.1f}x ours)")
    print(f"  max |chrominance ours - COLAMD float64| = {worst:.1e} (YIQ units; one uint8 step ~ 4e-3)")


if __name__ == "__main__":
    main()
