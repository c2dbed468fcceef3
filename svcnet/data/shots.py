"""Shots of a film: cut detection on decoded frames and hand-written shot lists.

A shot is a run of frames ``[start, end)``; the shots of a clip cover all its frames in order. ``detect_shots`` cuts
where the gray-level histogram of a 64×64 thumbnail changes by more than ``CUT_THRESHOLD`` (half the L1 distance
between the normalised 32-bin histograms, in [0, 1]) from the previous frame; it keeps one thumbnail histogram in
memory, whatever the length of the film. A shot list (``read_shot_list``) holds cut positions, one per line or
separated by commas: frame numbers (``120``) or timecodes (``00:00:05.000``, ``00:00:05:00`` = hh:mm:ss:ff).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svcnet.errors import InputError

SHOTS_MODES = ("auto", "none")  # or the path of a shot list: --shots auto|none|FILE
CUT_THRESHOLD = 0.15
_BINS = 32
_TIMECODE = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})(?:([.:])(\d+))?$")


@dataclass(frozen=True)
class Shot:
    """Frames ``start`` … ``end - 1`` of a clip."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


def _histogram(rgb: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    hist = np.bincount((gray // (256 // _BINS)).ravel(), minlength=_BINS).astype(np.float64)
    return hist / hist.sum()


def detect_shots(frames: Iterable[np.ndarray], fps: float) -> list[Shot]:
    """The shots of a clip from its uint8 RGB frames, read once in order (constant memory)."""
    cuts: list[int] = []
    previous = None
    n = 0
    for n, rgb in enumerate(frames, start=1):
        hist = _histogram(rgb)
        if previous is not None and 0.5 * np.abs(hist - previous).sum() > CUT_THRESHOLD:
            cuts.append(n - 1)
        previous = hist
    return shots_from_cuts(cuts, n)


def shots_from_cuts(cuts: list[int], n_frames: int) -> list[Shot]:
    """Shots from the first frame numbers of every shot but the first (0 and ``n_frames`` are implied)."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < n_frames}), n_frames]
    return [Shot(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _cut_frame(text: str, fps: float, where: str) -> int:
    if text.isdigit():
        return int(text)
    m = _TIMECODE.match(text)
    if not m:
        raise InputError(f"{where}: {text!r} is neither a frame number nor a timecode (hh:mm:ss.mmm or hh:mm:ss:ff)")
    h, mi, s, sep, frac = m.groups()
    seconds = int(h) * 3600 + int(mi) * 60 + int(s)
    if sep == ":":
        return round(seconds * fps) + int(frac)
    return round((seconds + (float(f"0.{frac}") if frac else 0.0)) * fps)


def read_shot_list(path: str | os.PathLike, fps: float, n_frames: int | None) -> list[Shot]:
    """The shots given by a list of cut positions (module docstring); ``n_frames`` closes the last shot."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read shot list {path}: {exc}") from None
    cuts = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        for item in filter(None, (t.strip() for t in line.split(","))):
            cuts.append(_cut_frame(item, fps, f"shot list {path} line {number}"))
    if n_frames is None:
        raise InputError(f"shot list {path}: the clip's frame count is needed to close the last shot")
    beyond = [c for c in cuts if c >= n_frames]
    if beyond:
        raise InputError(f"shot list {path}: cut at frame {beyond[0]} but the clip has {n_frames} frames")
    return shots_from_cuts(cuts, n_frames)


def shots_to_json(shots: Iterable[Shot]) -> list[dict]:
    return [{"start": s.start, "end": s.end} for s in shots]
