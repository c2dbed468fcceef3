"""Random training scribbles (docs/official.md §3.3) as picklable dataset transforms.

Image (CPNet, ``CPNet/dataset.py``): with probability ``prob`` draw ``0 … max_points−1`` points uniformly over the
image, each copying the RGB of its pixel into the half-open square ``[c − w//2, c + w//2)`` (4×4 for width 5,
clipped at the borders, later points overwrite earlier ones); otherwise an all-black image (no scribble).
Window (SSNet, ``ssnet_DAVISVidevo.py``): one on/off draw per window, then independent points in every frame (no
flow carry during training).

Randomness comes from the ``numpy.random.Generator`` passed in (the dataset's per-sample generator), consumed in a
fixed order — on/off ``random()``, count ``integers(0, max_points)``, then ``integers(0, H)``, ``integers(0, W)``
per point — so a sample is reproducible from its seed whatever the worker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from svcnet.scribbles.squares import paint_squares


def random_points(rgb: np.ndarray, n_points: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 RGB scribble with ``n_points`` uniformly placed squares of the image's own colours (black elsewhere)."""
    h, w = rgb.shape[:2]
    yx = np.empty((n_points, 2), np.int64)
    for i in range(n_points):
        yx[i] = int(rng.integers(0, h)), int(rng.integers(0, w))
    return paint_squares((h, w), yx, rgb[yx[:, 0], yx[:, 1]], width)


@dataclasses.dataclass(frozen=True)
class RandomScribble:
    """CPNet's per-image transform: ``(uint8 RGB, rng) → uint8 RGB scribble`` (official: 0.5, 40, 5)."""

    prob: float = 0.5
    max_points: int = 40
    width: int = 5

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < self.prob:
            return random_points(rgb, int(rng.integers(0, self.max_points)), self.width, rng)
        return np.zeros_like(rgb)


@dataclasses.dataclass(frozen=True)
class RandomWindowScribble:
    """SSNet's per-window transform: one on/off draw, then independent random points in every frame."""

    prob: float = 0.5
    max_points: int = 40
    width: int = 5

    def __call__(self, rgbs: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        if rng.random() < self.prob:
            return [random_points(f, int(rng.integers(0, self.max_points)), self.width, rng) for f in rgbs]
        return [np.zeros_like(f) for f in rgbs]
