"""Random training scribbles (spec §3.3), bound to the ``train.scribbles`` settings, drawn from a sample's RNG.

Image (CPNet): with probability ``prob`` draw 0 … max_points−1 points uniformly over the image, each copying the
RGB of its centre pixel into the half-open square [c−w//2, c+w//2) (4×4 for width 5, clipped at the borders, later
points overwrite earlier ones); otherwise an all-black (no scribble) image. Window (SSNet): one Bernoulli per
window, then independent points per frame (no flow carry), as the official SSNet dataset does.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from svcnet.train.settings import ScribbleSettings


def random_points_scribble(rgb: np.ndarray, n_points: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 RGB scribble image with ``n_points`` squares of the image's own colours (black elsewhere)."""
    h, w = rgb.shape[:2]
    out = np.zeros_like(rgb)
    half = width // 2
    for _ in range(n_points):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        out[max(0, y - half):y + half, max(0, x - half):x + half] = rgb[y, x]
    return out


def image_scribble_fn(s: ScribbleSettings) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """CPNet's per-image transform: (uint8 RGB, rng) → uint8 RGB scribble."""

    def draw(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < s.prob:
            return random_points_scribble(rgb, int(rng.integers(0, s.max_points)), s.width, rng)
        return np.zeros_like(rgb)

    return draw


def window_scribble_fn(s: ScribbleSettings) -> Callable[[Sequence[np.ndarray], np.random.Generator],
                                                        list[np.ndarray]]:
    """SSNet's per-window transform: one on/off draw for the window, independent points in every frame."""

    def draw(rgbs: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        if rng.random() < s.prob:
            return [random_points_scribble(f, int(rng.integers(0, s.max_points)), s.width, rng) for f in rgbs]
        return [np.zeros_like(f) for f in rgbs]

    return draw
