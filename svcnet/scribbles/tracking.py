"""Track scribble points from one frame to the next along the forward optical flow, with an occlusion check.

Not :mod:`svcnet.infer.carry`, which carries a whole scribble *image* at inference by backward warping.

Deliberate difference from the official GCS scripts (docs/official.md §4.2): they backward-warp the previous *image* of
single-pixel points with nearest sampling, so points can vanish or be duplicated and positions are re-quantised to
the pixel grid at every frame. Here each point is a tracked sub-pixel position: it moves by the forward flow
sampled (bilinearly) at its position, and it is dropped when it leaves the frame or when the forward and backward
flows disagree there (occluded in the next frame; the forward–backward test of :mod:`svcnet.ops.occlusion`).
A point is never duplicated, and it keeps its colour exactly.
"""

from __future__ import annotations

import numpy as np

# Absolute forward–backward tolerance in pixels. The dense masks of svcnet.ops.occlusion use √0.5 ≈ 0.71 px, tuned
# for weighting losses, where dropping a few good pixels costs nothing. For a few dozen scribble points every false
# drop loses a scribble, so the tolerance sits above DIS's usual error on flat regions (water, sky) and below the
# several pixels of real occlusions (docs/measurements.md §5).
DEFAULT_TOLERANCE = 1.5


def sample_bilinear(field: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Values of an H×W×C field at N sub-pixel positions ``xy`` (x, y), bilinear, clamped to the image."""
    h, w = field.shape[:2]
    x = np.clip(xy[:, 0], 0, w - 1)
    y = np.clip(xy[:, 1], 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2 if w > 1 else 0)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2 if h > 1 else 0)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = field[y0, x0] * (1 - fx) + field[y0, x1] * fx
    bottom = field[y1, x0] * (1 - fx) + field[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def occluded_at(
    xy: np.ndarray, flow_fw: np.ndarray, flow_bw: np.ndarray, tolerance: float = DEFAULT_TOLERANCE
) -> np.ndarray:
    """N bools: True where a point of the current frame is occluded in (or leaves) the next frame.

    ``flow_fw``: current → next (``cur(p) ≈ next(p + fw(p))``); ``flow_bw``: next → current. The forward–backward
    test of :func:`svcnet.ops.occlusion.occlusion_mask` (Ruder et al.) evaluated at the points only:
    ``|fw(p) + bw(q)|² > 0.01 (|fw(p)|² + |bw(q)|²) + tolerance²`` with ``q = p + fw(p)``, or ``q`` outside the
    image. ``tolerance = √0.5`` px is exactly the dense mask's test.
    """
    h, w = flow_fw.shape[:2]
    fw = sample_bilinear(flow_fw.astype(np.float64), xy)
    q = xy + fw
    bw = sample_bilinear(flow_bw.astype(np.float64), q)
    outside = (q[:, 0] < 0) | (q[:, 0] > w - 1) | (q[:, 1] < 0) | (q[:, 1] > h - 1)
    sq = lambda v: (v**2).sum(axis=1)  # noqa: E731
    return outside | (sq(fw + bw) > 0.01 * (sq(fw) + sq(bw)) + tolerance**2)


def track_points(
    xy: np.ndarray,
    flow_fw: np.ndarray,
    flow_bw: np.ndarray | None,
    shape: tuple[int, int],
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Move N points (x, y floats) by ``flow_fw``; returns (new positions, kept mask).

    A point is kept when its rounded new position is inside ``shape`` (H, W) and, if ``flow_bw`` is given, its
    position is not occluded in the next frame.
    """
    h, w = shape
    if len(xy) == 0:
        return xy.copy(), np.zeros(0, bool)
    moved = xy + sample_bilinear(flow_fw.astype(np.float64), xy)
    px = np.round(moved).astype(np.int64)
    keep = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    if flow_bw is not None:
        keep &= ~occluded_at(xy, flow_fw, flow_bw, tolerance)
    return moved, keep
