"""Shots of a film: cut detection on decoded frames, hand-made shot lists, and their JSON form.

A shot is a run of frames between two cuts (``Shot(start, end)``, frame indices, ``end`` exclusive). ``--shots``
takes ``auto`` (detect the cuts), ``none`` (the whole input is one shot) or the path of a shot list.

Detection (:func:`detect_shots`) compares the lightness histograms of consecutive frames: a frame whose histogram's
correlation with the previous frame's falls below ``1 - threshold`` starts a new shot, unless the current shot is
shorter than ``min_shot_seconds``. Only the lightness is used, the one channel a colorizer reads, so a grayscale film
and its colour original give the same cuts. The detector streams: it keeps one histogram, never a frame, so memory
does not grow with the film. The defaults were chosen by precision/recall on real footage (docs/measurements.md §11,
which also says why PySceneDetect is not a dependency).

A shot list is a text or CSV file of cut positions, the first frame of each new shot: frame numbers (``120``, counted
from 0) or timecodes ``HH:MM:SS.mmm`` (a time, turned into the nearest frame at the film's rate) or ``HH:MM:SS:FF``
(SMPTE non-drop: seconds at the nominal integer rate plus ``FF`` frames). Positions are separated by new lines,
commas, semicolons or spaces; ``#`` starts a comment. A cut at frame 0 is allowed and changes nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from svcnet.errors import InputError

SHOTS_MODES = ("auto", "none")  # or the path of a shot list file


@dataclasses.dataclass(frozen=True)
class Shot:
    """Frames ``start`` .. ``end - 1`` of the film; ``end`` None: the last shot of a film whose length is not known
    yet."""

    start: int
    end: int | None

    def __len__(self) -> int:
        return self.end - self.start


@dataclasses.dataclass(frozen=True)
class DetectorSettings:
    """How cuts are found: lightness-histogram distance of consecutive frames (docs/measurements.md §11)."""

    threshold: float = 0.16  # 1 - correlation of the two histograms at or above which a frame starts a new shot
    bins: int = 64  # histogram bins over 0..255
    min_shot_seconds: float = 0.1  # no cut closer than this to the previous one (a one-frame flash cuts once)
    width: int = 256  # frames are scored at this width (INTER_AREA), which also evens out grain

    def check(self) -> None:
        """InputError when a value cannot work."""
        if not 0.0 < self.threshold <= 2.0:
            raise InputError(f"shot detection threshold must be in (0, 2], got {self.threshold}")
        if not 2 <= self.bins <= 256:
            raise InputError(f"shot detection bins must be in 2..256, got {self.bins}")
        if self.min_shot_seconds < 0:
            raise InputError(f"minimum shot length must be >= 0 seconds, got {self.min_shot_seconds}")
        if self.width < 8:
            raise InputError(f"shot detection width must be at least 8 pixels, got {self.width}")


def lightness_histogram(frame: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """Normalised histogram of the frame's BT.601 luma at the scoring width (float32, ``settings.bins``)."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"shot detection needs uint8 RGB frames, got {frame.dtype} {frame.shape}")
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    h, w = luma.shape
    if w > settings.width:
        luma = cv2.resize(luma, (settings.width, max(1, round(h * settings.width / w))), interpolation=cv2.INTER_AREA)
    hist = cv2.calcHist([luma], [0], None, [settings.bins], [0, 256])
    return cv2.normalize(hist, hist)


def cut_score(previous: np.ndarray, current: np.ndarray) -> float:
    """1 - correlation of two histograms: 0 for the same distribution, larger for a change of scene."""
    return 1.0 - float(cv2.compareHist(previous, current, cv2.HISTCMP_CORREL))


def iter_cut_scores(frames: Iterable[np.ndarray], settings: DetectorSettings) -> Iterator[float]:
    """The cut score of each frame against the one before it (0 for the first frame), one frame at a time."""
    previous = None
    for frame in frames:
        hist = lightness_histogram(frame, settings)
        yield 0.0 if previous is None else cut_score(previous, hist)
        previous = hist


def min_shot_frames(fps: float, settings: DetectorSettings) -> int:
    """The minimum shot length in frames at ``fps``."""
    if not (fps > 0 and math.isfinite(fps)):
        raise InputError(f"frame rate must be a positive number, got {fps}")
    return max(1, round(settings.min_shot_seconds * fps))


def iter_cuts(frames: Iterable[np.ndarray], fps: float, settings: DetectorSettings | None = None) -> Iterator[int]:
    """Frame indices where a new shot starts (never 0), found while ``frames`` streams by."""
    settings = settings or DetectorSettings()
    settings.check()
    shortest = min_shot_frames(fps, settings)
    last = 0
    for index, score in enumerate(iter_cut_scores(frames, settings)):
        if index > 0 and score >= settings.threshold and index - last >= shortest:
            last = index
            yield index


def detect_shots(frames: Iterable[np.ndarray], fps: float, settings: DetectorSettings | None = None) -> list[Shot]:
    """The shots of a film from its decoded frames (uint8 RGB, in order), covering every frame; constant memory."""
    count = 0

    def counted() -> Iterator[np.ndarray]:
        nonlocal count
        for frame in frames:
            count += 1
            yield frame

    cuts = list(iter_cuts(counted(), fps, settings))
    return shots_from_cuts(cuts, count)


def shots_from_cuts(cuts: Sequence[int], n_frames: int | None) -> list[Shot]:
    """Shots between increasing cut positions (a first cut at 0 changes nothing); ``n_frames`` None leaves the last
    shot open (``end`` None). ValueError for unsorted or out-of-range cuts (read_shot_list checks files)."""
    if n_frames is not None and n_frames == 0:
        if any(cuts):
            raise ValueError("cuts given for a film without frames")
        return []
    starts = [0, *(cuts[1:] if cuts and cuts[0] == 0 else cuts)]
    for a, b in itertools.pairwise(starts):
        if b <= a:
            raise ValueError(f"cuts must be increasing: {b} after {a}")
    if n_frames is not None and starts[-1] >= n_frames:
        raise ValueError(f"cut at frame {starts[-1]} is past the last frame ({n_frames - 1})")
    return [Shot(a, b) for a, b in zip(starts, [*starts[1:], n_frames])]


def shots_to_json(shots: Sequence[Shot]) -> list[dict]:
    """The shots as JSON-ready records ``{"start": s, "end": e}``, in film order."""
    return [{"start": s.start, "end": s.end} for s in shots]


_FRAME = re.compile(r"^\d+$")
_TIME = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)(?:\.(\d{1,3}))?$")  # HH:MM:SS.mmm (or no fraction)
_SMPTE = re.compile(r"^(\d+):([0-5]\d):([0-5]\d):(\d{2})$")  # HH:MM:SS:FF
_SEP = re.compile(r"[,;\s]+")
POSITION_FORMS = "a frame number or a timecode (HH:MM:SS.mmm or HH:MM:SS:FF)"


def parse_position(token: str, fps: float) -> int:
    """A cut position (POSITION_FORMS) as a frame index; ValueError saying what is wrong with ``token``."""
    if _FRAME.match(token):
        return int(token)
    if m := _TIME.match(token):
        seconds = int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) + (int(m[4].ljust(3, "0")) / 1000 if m[4] else 0.0)
        return round(seconds * fps)
    if m := _SMPTE.match(token):
        nominal = round(fps)
        if int(m[4]) >= nominal:
            raise ValueError(f"has frame field {m[4]}; it must be below the nominal rate {nominal}")
        return ((int(m[1]) * 60 + int(m[2])) * 60 + int(m[3])) * nominal + int(m[4])
    raise ValueError("is neither a frame number nor a timecode (HH:MM:SS.mmm or HH:MM:SS:FF)")


def parse_shot_list(text: str, fps: float, n_frames: int | None, source: str = "shot list") -> list[Shot]:
    """Shots from the text of a shot list (see the module docstring); InputError naming the line of a bad entry."""
    min_shot_frames(fps, DetectorSettings())  # checks fps
    cuts: list[int] = []
    where: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for token in _SEP.split(line.split("#", 1)[0].strip()):
            if not token:
                continue
            try:
                frame = parse_position(token, fps)
            except ValueError as exc:
                raise InputError(f"{source}, line {number}: {token!r} {exc}") from None
            if n_frames is not None and frame >= n_frames:
                raise InputError(
                    f"{source}, line {number}: cut {token!r} = frame {frame} is past the last frame ({n_frames - 1})"
                )
            if cuts and frame <= cuts[-1]:
                raise InputError(
                    f"{source}, line {number}: cut {token!r} = frame {frame} does not come after the previous cut "
                    f"(frame {cuts[-1]}, line {where[-1]}); list the cuts in increasing order, each once"
                )
            cuts.append(frame)
            where.append(number)
    return shots_from_cuts(cuts, n_frames)


def read_shot_list(path: str | os.PathLike, fps: float, n_frames: int | None = None) -> list[Shot]:
    """Shots from a shot list file of cut positions (frame numbers or timecodes); InputError on bad content."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"shot list not found: {path} (give --shots auto, none or a file of cut positions)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read shot list {path}: {exc}") from None
    return parse_shot_list(text, fps, n_frames, source=str(path))


def shots_option(value: str) -> str | Path:
    """The ``--shots`` value: one of SHOTS_MODES, or the Path of a shot list file (InputError when missing)."""
    if value in SHOTS_MODES:
        return value
    path = Path(value)
    if not path.is_file():
        raise InputError(f"--shots {value!r}: expected {', '.join(SHOTS_MODES)} or a shot list file, and no such file")
    return path
