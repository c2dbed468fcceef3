"""Random training scribbles (docs/official.md §3.3) bound to the ``train.scribbles`` settings.

The transforms themselves live in :mod:`svcnet.scribbles.training` (one implementation for the whole project);
this module only builds them from :class:`svcnet.train.settings.ScribbleSettings`.
"""

from __future__ import annotations

from svcnet.scribbles.training import RandomScribble, RandomWindowScribble
from svcnet.scribbles.training import random_points as random_points_scribble
from svcnet.train.settings import ScribbleSettings

__all__ = ["image_scribble_fn", "random_points_scribble", "window_scribble_fn"]


def image_scribble_fn(s: ScribbleSettings) -> RandomScribble:
    """CPNet's per-image transform: (uint8 RGB, rng) → uint8 RGB scribble."""
    return RandomScribble(prob=s.prob, max_points=s.max_points, width=s.width)


def window_scribble_fn(s: ScribbleSettings) -> RandomWindowScribble:
    """SSNet's per-window transform: one on/off draw for the window, independent points in every frame."""
    return RandomWindowScribble(prob=s.prob, max_points=s.max_points, width=s.width)
