"""Evaluation scribbles of a clip (spec §4.2): N colour points on the first frame, carried along the optical flow.

Frames are brought to the working size (448×256, the official cv2 INTER_CUBIC resize; an exact copy when already
that size). On the first frame ``points`` positions are drawn uniformly from a NumPy generator seeded with ``seed``,
each taking the ground-truth colour of its pixel (recoloured by ``style``); every frame's scribble image paints each
live point as a ``width`` square (4×4 for width 5, :mod:`svcnet.scribbles.squares`). Later frames carry the points
along the flow (:mod:`svcnet.scribbles.carry`); a point that leaves the frame or is occluded is dropped, or, with
``reseed``, replaced by a new point drawn on the current frame (with that frame's ground-truth colour).

Deliberate differences from the official GCS script (documented in the output metadata too):
* positions are drawn in ``[w//2, size − w//2]`` so every first-frame square is whole (official: ``randint(1, H−1)``
  single pixels, and points in rows/columns 0–1 paint nothing after widening);
* points are tracked at sub-pixel positions with an occlusion check instead of warping the point image with nearest
  sampling (no duplicated or silently shifted points; see carry.py);
* a black colour is written as (1, 1, 1) so the point stays a scribble (styles.visible).

``protocol: gcs`` makes them as the official script does instead (:mod:`svcnet.scribbles.gcs`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import cv2
import numpy as np

from svcnet.errors import InputError
from svcnet.scribbles.carry import DEFAULT_TOLERANCE, carry_points
from svcnet.scribbles.flow import FlowEstimator
from svcnet.scribbles.squares import paint_squares, square_extent
from svcnet.scribbles.styles import STYLES, map_values, visible

WORK_SIZE = (256, 448)  # H, W of the paper
PROTOCOLS = ("svcnet", "gcs")  # ours (this module) | the official GCS script (gcs.py)


@dataclasses.dataclass(frozen=True)
class EvalScribbleSettings:
    """How evaluation scribbles are drawn (defaults: the official 40 points, width 5, at 448×256)."""

    points: int = 40
    width: int = 5
    seed: int = 0
    style: str = "gt"
    reseed: bool = False
    occlusion_check: bool = True
    occlusion_tolerance: float = DEFAULT_TOLERANCE  # px, see carry.py
    size: tuple[int, int] = WORK_SIZE
    protocol: str = "svcnet"

    def check(self) -> None:
        """InputError when a value cannot work."""
        h, w = self.size
        if self.protocol not in PROTOCOLS:
            raise InputError(f"unknown scribble protocol {self.protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        if self.points < 1:
            raise InputError(f"scribble points must be at least 1, got {self.points}")
        if self.width < 1:
            raise InputError(f"scribble width must be at least 1, got {self.width}")
        if self.occlusion_tolerance < 0:
            raise InputError(f"occlusion tolerance must be >= 0 px, got {self.occlusion_tolerance}")
        if self.style not in STYLES:
            raise InputError(f"unknown scribble style {self.style!r}; choose one of {', '.join(STYLES)}")
        if h < 1 or w < 1 or self.width // 2 * 2 >= min(h, w):
            raise InputError(f"working size {w}x{h} is too small for squares of width {self.width}")


@dataclasses.dataclass
class ClipScribbles:
    """Per-frame scribble images and what happened to the points."""

    images: list[np.ndarray]
    alive: list[int]
    dropped: list[int]
    reseeded: list[int]
    first_points: list[dict]


def to_work_size(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The official resize to the working size (cv2 INTER_CUBIC); an exact copy when already that size."""
    h, w = size
    return rgb.copy() if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC)


def sample_points(rgb: np.ndarray, n: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform positions (N×2 float x, y) whose ``width`` squares fit in the image, and their RGB colours."""
    h, w = rgb.shape[:2]
    before, after = square_extent(width)
    ys = rng.integers(before, h - after + 1, size=n)
    xs = rng.integers(before, w - after + 1, size=n)
    return np.stack([xs, ys], axis=1).astype(np.float64), rgb[ys, xs].astype(np.uint8)


def check_frames(frames: Sequence[np.ndarray], names: Sequence[str] | None = None) -> None:
    """InputError unless ``frames`` is a non-empty list of uint8 RGB images of one size."""
    if len(frames) == 0:
        raise InputError("no frames to draw scribbles on")
    first = frames[0]
    for i, f in enumerate(frames):
        name = names[i] if names else f"frame {i}"
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            raise InputError(f"{name}: expected a uint8 RGB image, got {f.dtype} {f.shape}")
        if f.shape != first.shape:
            raise InputError(
                f"{name} is {f.shape[1]}x{f.shape[0]} but the first frame is {first.shape[1]}x"
                f"{first.shape[0]}; all frames of a clip must have the same size"
            )


def generate_scribbles(
    frames: Sequence[np.ndarray], settings: EvalScribbleSettings, flow: FlowEstimator | None
) -> ClipScribbles:
    """Scribble images (uint8 RGB at the working size, black = none) for every frame of a clip."""
    settings.check()
    check_frames(frames)
    if len(frames) > 1 and flow is None:
        raise ValueError("carrying scribbles over several frames needs a flow estimator")
    if settings.protocol == "gcs":
        return _generate_gcs(frames, settings, flow)
    size = tuple(settings.size)
    rng = np.random.default_rng(settings.seed)
    cur = to_work_size(frames[0], size)
    xy, gt = sample_points(cur, settings.points, settings.width, rng)
    colours = visible(map_values(gt, settings.style))
    first = [{"x": int(p[0]), "y": int(p[1]), "rgb": [int(v) for v in c]} for p, c in zip(xy, colours)]
    out = ClipScribbles([], [], [], [], first)

    def emit(dropped: int, reseeded: int) -> None:
        out.images.append(paint_squares(size, np.round(xy[:, ::-1]).astype(np.int64), colours, settings.width))
        out.alive.append(len(xy))
        out.dropped.append(dropped)
        out.reseeded.append(reseeded)

    emit(0, 0)
    for frame in frames[1:]:
        nxt = to_work_size(frame, size)
        fw = flow(cur, nxt)
        bw = flow(nxt, cur) if settings.occlusion_check else None
        xy, keep = carry_points(xy, fw, bw, size, settings.occlusion_tolerance)
        xy, colours = xy[keep], colours[keep]
        dropped = int((~keep).sum())
        reseeded = 0
        if settings.reseed and dropped:
            new_xy, new_gt = sample_points(nxt, dropped, settings.width, rng)
            xy = np.concatenate([xy, new_xy])
            colours = np.concatenate([colours, visible(map_values(new_gt, settings.style))])
            reseeded = dropped
        emit(dropped, reseeded)
        cur = nxt
    return out


def _generate_gcs(
    frames: Sequence[np.ndarray], settings: EvalScribbleSettings, flow: FlowEstimator | None
) -> ClipScribbles:
    """The official GCS scribbles (:mod:`svcnet.scribbles.gcs`); ``alive`` counts each frame's point pixels."""
    from svcnet.scribbles.gcs import gcs_images, gcs_point_maps

    work = [to_work_size(f, tuple(settings.size)) for f in frames]
    maps = gcs_point_maps(work, settings.points, settings.seed, flow)
    alive = [int(m.any(axis=2).sum()) for m in maps]
    ys, xs = np.nonzero(maps[0].any(axis=2))
    first = [{"x": int(x), "y": int(y), "rgb": [int(v) for v in maps[0][y, x]]} for y, x in zip(ys, xs)]
    dropped = [0] + [max(0, a - b) for a, b in itertools.pairwise(alive)]
    return ClipScribbles(gcs_images(maps, settings.width, settings.style), alive, dropped, [0] * len(maps), first)
