"""Levin, Lischinski and Weiss, "Colorization using Optimization" (SIGGRAPH 2004), one frame at a time.

In YIQ space the luminance Y is the grayscale input; each chrominance channel U (I, then Q) solves
``U(r) - sum_s w_rs U(s) = 0`` at every pixel r without a scribble and ``U(r) = scribble(r)`` where there is one.
The affinities are the paper's: ``w_rs ∝ exp(-(Y(r) - Y(s))^2 / (2 sigma_r^2))`` over the 3×3 window around r,
normalised to sum to 1, with ``sigma_r`` from the intensity variance of that window (the constants of the authors'
implementation: ``2 sigma_r^2 = max(0.6 var_r, min_s (Y(r)-Y(s))^2 / ln 100, 2e-6)``).

The sparse system (one matrix for both channels) is factorised once by SuperLU in a nested-dissection order of the
pixel grid, without pivoting (the matrix is diagonally dominant), in float32: the chrominance stays well under one
uint8 step from a float64 solve; a ``2^-23`` diagonal term keeps the system safely nonsingular where the affinities
across strong edges are tiny. Accuracy and cost per frame: docs/measurements.md §2 (``bench/levin.py``).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skimage.color import rgb2yiq, yiq2rgb

from svcnet.errors import InputError

OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
SCREENING = 2.0**-23  # the smallest step above 1 in float32


@functools.lru_cache(maxsize=8)
def nested_dissection_order(height: int, width: int, leaf: int = 16) -> np.ndarray:
    """Pixel indices (row-major) in nested-dissection order: two halves, then the 1-pixel line separating them."""
    parts: list[np.ndarray] = []

    def split(r0: int, r1: int, c0: int, c1: int) -> None:
        h, w = r1 - r0, c1 - c0
        if h <= 0 or w <= 0:
            return
        if h * w <= leaf:
            parts.append((np.arange(r0, r1)[:, None] * width + np.arange(c0, c1)[None, :]).ravel())
        elif h >= w:
            m = (r0 + r1) // 2
            split(r0, m, c0, c1)
            split(m + 1, r1, c0, c1)
            parts.append(m * width + np.arange(c0, c1))
        else:
            m = (c0 + c1) // 2
            split(r0, r1, c0, m)
            split(r0, r1, m + 1, c1)
            parts.append(np.arange(r0, r1) * width + m)

    split(0, height, 0, width)
    order = np.concatenate(parts)
    order.flags.writeable = False
    return order


def _shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]`` (edge values outside; callers mask them)."""
    return np.pad(a, 1, mode="edge")[1 + dy : 1 + dy + a.shape[0], 1 + dx : 1 + dx + a.shape[1]]


def affinities(y: np.ndarray) -> np.ndarray:
    """Normalised 3×3 affinities of a luminance image (H×W in [0, 1]): 8×H×W, one plane per neighbour offset
    (:data:`OFFSETS`), 0 where the neighbour lies outside the image."""
    h, w = y.shape
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    valid = np.stack([(rows + dy >= 0) & (rows + dy < h) & (cols + dx >= 0) & (cols + dx < w) for dy, dx in OFFSETS])
    nb = np.stack([_shifted(y, dy, dx) for dy, dx in OFFSETS])
    count = valid.sum(0) + 1.0
    mean = (np.where(valid, nb, 0.0).sum(0) + y) / count
    var = (np.where(valid, (nb - mean) ** 2, 0.0).sum(0) + (y - mean) ** 2) / count
    d2 = np.where(valid, (nb - y) ** 2, np.inf)
    two_sigma2 = np.maximum.reduce([0.6 * var, d2.min(0) / np.log(100.0), np.full_like(var, 2e-6)])
    wts = np.where(valid, np.exp(-np.where(valid, d2, 0.0) / two_sigma2), 0.0)
    return wts / wts.sum(0)


def solve_chrominance(y: np.ndarray, marked: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Chrominance planes H×W×K propagated from the ``marked`` pixels (``values`` H×W×K there) along ``y``."""
    h, w = y.shape
    n = h * w
    order = nested_dissection_order(h, w)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    pix = position.reshape(h, w)
    free = ~marked
    wts = affinities(y)
    rows, cols, vals = [pix.ravel()], [pix.ravel()], [np.where(free, 1.0 + SCREENING, 1.0).ravel()]
    for k, (dy, dx) in enumerate(OFFSETS):
        keep = free & (wts[k] > 0)
        rows.append(pix[keep])
        cols.append(_shifted(pix, dy, dx)[keep])
        vals.append(-wts[k][keep])
    a = sp.csc_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    rhs = np.zeros((n, values.shape[-1]))
    rhs[pix[marked]] = values[marked]
    lu = spla.splu(a, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    return lu.solve(rhs.astype(a.dtype)).astype(np.float64)[pix]


def levin_colorize(gray: np.ndarray, scribble: np.ndarray) -> np.ndarray:
    """Colourise one frame: ``gray`` H×W (or H×W×3, its luma is used) uint8, ``scribble`` H×W×3 uint8 RGB where
    black means no scribble. Returns H×W×3 uint8 RGB with the input's luminance; no scribble = the gray image."""
    if gray.ndim == 3:
        y = rgb2yiq(gray)[..., 0]
    elif gray.ndim == 2:
        y = gray.astype(np.float64) / 255.0
    else:
        raise InputError(f"expected a H×W or H×W×3 gray frame, got shape {gray.shape}")
    if scribble.shape != (*y.shape, 3):
        raise InputError(f"scribble {scribble.shape[1::-1]} and frame {y.shape[::-1]} sizes differ (W x H)")
    marked = scribble.max(axis=-1) > 0
    yiq = np.zeros((*y.shape, 3))
    yiq[..., 0] = y
    if marked.any():
        yiq[..., 1:] = solve_chrominance(y, marked, rgb2yiq(scribble)[..., 1:])
    return (np.clip(yiq2rgb(yiq), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def gray_frame(frame: np.ndarray) -> np.ndarray:
    """The grayscale baseline: the frame's luma (YIQ Y, i.e. BT.601) in all three channels, uint8."""
    y = rgb2yiq(frame)[..., 0] if frame.ndim == 3 else frame.astype(np.float64) / 255.0
    return np.repeat((np.clip(y, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)[..., None], 3, axis=-1)
