"""The official evaluation scribbles, as ``GCS/generate_color_scribbles_DAVIS_videvo.py`` makes them (spec §4.2):
scribble protocol ``gcs`` (the default protocol ``svcnet`` is :mod:`svcnet.scribbles.generate`).

Per clip, every frame brought to the working size with cv2 INTER_CUBIC:

1. first frame: ``points`` single-pixel points, row ``randint(1, H − 1)`` then column ``randint(1, W − 1)`` (NumPy's
   ``randint``, upper bound excluded, one point after the other), each copying the frame's RGB value (a black pixel
   gives an invisible point, later points overwrite earlier ones at the same pixel);
2. the point map is kept as float32 (``uint8 / 255``); each later frame: flow ``prev → curr`` (the flow with
   ``prev(p) ≈ curr(p + flow(p))``, PWC-Net in the official script) and the *previous point map* backward-warped by it
   with nearest sampling and zero padding (``PWCNetBackward`` of ``GCS/pwcnet.py``: align_corners grid, a ones channel,
   output × (ones > 0.999)) — points may vanish or duplicate; the new float map is kept, its ``× 255`` truncated to
   uint8 is the frame's point map;
3. every frame's point map is widened (:func:`svcnet.scribbles.squares.widen_official`: each non-black pixel in
   row-major order paints ``[i − w//2, i + w//2) × [j − w//2, j + w//2)``, a negative start paints nothing), then
   recoloured by the style.

Differences kept (recorded in the metadata): positions come from ``numpy.random.RandomState(seed)`` (the official
script uses the unseeded global generator, so its points cannot be reproduced); only ``<frame>_<H>p.png`` is written
(not the original-size and not-widened copies); the flow backend is whatever is configured (PWC-Net with GCS's
nearest/zero-padded internal warps when its weights are given, else OpenCV DIS; the metadata says which).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

from svcnet.ops.warp import warp_official
from svcnet.scribbles.squares import widen_official
from svcnet.scribbles.styles import recolour_image

DIFFERENCES = (
    "first-frame positions from numpy.random.RandomState(seed) (official: the unseeded global NumPy generator)",
    "only <frame>_<H>p.png is written (official also writes <frame>.png at the original size and the not-widened maps)",
)


def gcs_points(rgb: np.ndarray, n: int, rng: np.random.RandomState) -> np.ndarray:
    """The first frame's single-pixel point map (uint8 RGB, black = none), drawn as the official ``color_scribble``
    with width 1."""
    h, w = rgb.shape[:2]
    out = np.zeros_like(rgb)
    for _ in range(n):
        y = rng.randint(1, h - 1)
        x = rng.randint(1, w - 1)
        out[y, x] = rgb[y, x]
    return out


def warp_points(points: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """A float32 H×W×3 point map backward-warped by an H×W×2 flow as GCS does (nearest, zero padding, float32)."""
    src = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32)).permute(2, 0, 1)[None]
    fl = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        out = warp_official(src, fl, gcs=True)
    return out[0].permute(1, 2, 0).numpy()


def gcs_point_maps(frames: Sequence[np.ndarray], points: int, seed: int, flow) -> list[np.ndarray]:
    """The uint8 single-pixel point map of every frame (frames already at the working size)."""
    rng = np.random.RandomState(seed)
    first = gcs_points(frames[0], points, rng)
    maps = [first]
    carried = first.astype(np.float32) / np.float32(255.0)
    for prev, cur in itertools.pairwise(frames):
        carried = warp_points(carried, flow(prev, cur))
        maps.append((carried * np.float32(255.0)).astype(np.uint8))
    return maps


def gcs_images(maps: Sequence[np.ndarray], width: int, style: str) -> list[np.ndarray]:
    """The scribble images: each point map widened (official ``widen_scribble``) and recoloured by ``style``."""
    return [recolour_image(widen_official(m, width), style) for m in maps]
