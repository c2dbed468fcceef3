"""Scribble colour styles: ground truth, and the four official "diverse" recolourings (docs/official.md §4.2).

The official ``mapping_diverse_color_scribbles.py`` maps every channel value ``x`` of a non-black pixel with

* ``diverse1``: ``255 − x``
* ``diverse2``: ``|128 − x|`` computed in uint8, so for ``x > 128`` it wraps to ``384 − x`` (the abs is a no-op)
* ``diverse3``: ``x // 2``
* ``diverse4``: ``|x^1.2 − x|`` in float, stored into uint8; values above 255 (``x ≥ 149``) overflow. The stored
  value was the C cast of the float, i.e. truncation then the low 8 bits (what x86 does); we write that explicitly
  (``floor(v) mod 256``) so the result does not depend on NumPy's undefined out-of-range cast.

These are reproduced bit for bit (the channel order does not matter, each channel is mapped on its own).
"""

from __future__ import annotations

import numpy as np

from svcnet.errors import InputError

STYLES = ("gt", "diverse1", "diverse2", "diverse3", "diverse4")


def map_values(x: np.ndarray, style: str) -> np.ndarray:
    """Map uint8 channel values with ``style`` (``gt`` returns a copy)."""
    x = np.asarray(x, dtype=np.uint8)
    if style == "gt":
        return x.copy()
    if style == "diverse1":
        return (255 - x).astype(np.uint8)
    if style == "diverse2":
        return (np.uint8(128) - x).astype(np.uint8)  # uint8 wrap-around, then abs() is a no-op
    if style == "diverse3":
        return (x // 2).astype(np.uint8)
    if style == "diverse4":
        v = np.abs(x.astype(np.float64) ** 1.2 - x.astype(np.float64))
        return (np.floor(v).astype(np.int64) % 256).astype(np.uint8)
    raise InputError(f"unknown scribble style {style!r}; choose one of {', '.join(STYLES)}")


def recolour_image(img: np.ndarray, style: str) -> np.ndarray:
    """The official mapping applied to a scribble image: non-black pixels recoloured, black stays black."""
    out = np.zeros_like(img)
    mask = img.any(axis=2)
    out[mask] = map_values(img[mask], style)
    return out


def visible(colours: np.ndarray) -> np.ndarray:
    """Colours with pure black replaced by (1, 1, 1): black means "no scribble" in the file format, so a point whose
    colour is black (a black ground-truth pixel, or a style that maps to 0) is kept as the darkest visible colour.
    The official code silently loses such points; this is a deliberate difference."""
    colours = np.array(colours, dtype=np.uint8, copy=True)
    colours[~colours.any(axis=-1)] = 1
    return colours
