"""Scribble squares: painting point scribbles as small squares with the official geometry, and finding them again.

Official geometry (docs/official.md §3.3, §4.2): a point at row ``i``, column ``j`` paints the half-open slice
``[i − w//2, i + w//2) × [j − w//2, j + w//2)`` — a 4×4 square for width 5 — and points drawn later overwrite
earlier ones. The official evaluation code ("widen") takes a negative slice start literally, so a point in rows or
columns 0–1 paints nothing; here squares are clipped at the borders instead (a point at the edge keeps its visible
part), which is what the official *training* transform does. Width 1 (officially an empty slice) paints one pixel.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np


def square_extent(width: int) -> tuple[int, int]:
    """(before, after) of a square around its centre: ``[c − before, c + after)``; width 1 is the single pixel."""
    half = width // 2
    return (half, half) if half else (0, 1)


def square_bounds(centre: int, width: int, size: int) -> tuple[int, int]:
    """Half-open ``[start, stop)`` of a square of ``width`` around ``centre``, clipped to ``[0, size)``."""
    before, after = square_extent(width)
    return max(0, centre - before), min(size, centre + after)


def paint_squares(shape: tuple[int, int], yx: np.ndarray, colours: np.ndarray, width: int) -> np.ndarray:
    """uint8 RGB image of ``shape`` (H, W): black, with one square per point (N×2 int rows, columns) in its colour.

    Points are painted in order, so later points overwrite earlier ones (official behaviour).
    """
    h, w = shape
    out = np.zeros((h, w, 3), np.uint8)
    for (y, x), colour in zip(np.asarray(yx, dtype=np.int64), np.asarray(colours, dtype=np.uint8)):
        y0, y1 = square_bounds(int(y), width, h)
        x0, x1 = square_bounds(int(x), width, w)
        out[y0:y1, x0:x1] = colour
    return out


def widen_official(points: np.ndarray, width: int = 5) -> np.ndarray:
    """The official ``widen_scribble`` of a single-pixel point map (uint8 RGB): every non-black pixel, in row-major
    order, paints ``[i − w//2, i + w//2)`` with Python slice semantics (a negative start paints nothing)."""
    h, w = points.shape[:2]
    out = np.zeros_like(points)
    half = width // 2
    for i, j in zip(*np.nonzero(points.any(axis=2))):
        if i - half < 0 or j - half < 0:
            continue  # the official slice with a negative start is empty
        out[i - half : min(h, i + half), j - half : min(w, j + half)] = points[i, j]
    return out


@dataclasses.dataclass(frozen=True)
class Blob:
    """A connected region of one colour in a scribble image (a square, or overlapping squares of that colour)."""

    top: int
    left: int
    height: int
    width: int
    pixels: int
    colour: tuple[int, int, int]


def scribble_blobs(img: np.ndarray) -> list[Blob]:
    """The single-colour connected regions (4-connectivity) of a uint8 RGB scribble image, black = none.

    Sorted by colour, then position; a lone 4×4 square is ``Blob(height=4, width=4, pixels=16)``.
    """
    mask = img.any(axis=2)
    if not mask.any():
        return []
    packed = (img[..., 0].astype(np.int64) << 16) | (img[..., 1].astype(np.int64) << 8) | img[..., 2]
    blobs: list[Blob] = []
    for value in np.unique(packed[mask]):
        _n, _, stats, _ = cv2.connectedComponentsWithStats((packed == value).astype(np.uint8), connectivity=4)
        colour = (int(value >> 16) & 255, int(value >> 8) & 255, int(value) & 255)
        for x, y, bw, bh, area in stats[1:]:
            blobs.append(Blob(int(y), int(x), int(bh), int(bw), int(area), colour))
    return sorted(blobs, key=lambda b: (b.colour, b.top, b.left))
