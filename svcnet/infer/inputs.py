"""Inference inputs: a clip (folder of frames or video file) and its scribbles, checked before any work starts.

Frames are read in numeric order (``list_frames``); grayscale, RGBA (composited on black) and 16-bit images are
converted to 8-bit RGB by ``read_rgb``. Scribbles follow the official format: an RGB image where black means "no
scribble", either one per frame (``<frame>_<H>p.png`` as the official data names them, or ``<frame>.png``) or a
single image for the first frame that is carried to later frames along the flow.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from svcnet.data.frames import (
    IMAGE_SUFFIXES,
    image_size,
    is_video_file,
    iter_video_frames,
    list_frames,
    read_rgb,
    video_fps,
)
from svcnet.errors import InputError

_SIZE_SUFFIX = re.compile(r"^(?P<stem>.+)_(?P<h>\d+)p$")


@dataclass
class Clip:
    """Frames to colourise: names (file stems, or ``00000``… for a video), size, fps, and a frame reader."""

    source: Path
    is_video: bool
    size: tuple[int, int] | None  # (H, W); None for a video until decoded
    fps: float | Fraction
    names: list[str] | None = None  # None for a video (known while decoding)
    paths: list[Path] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0  # index in the input of the clip's frame 0 (a folder's names and paths start there already)

    def frames(self, start: int = 0) -> Iterator[tuple[str, np.ndarray]]:
        """(name, uint8 RGB H×W×3) in numeric order from frame ``start`` on; every frame is checked for the clip's
        size. A video is decoded from its beginning (the frames before ``offset + start`` are skipped)."""
        if self.is_video:
            source = ((self.name(i), img) for i, img in enumerate(iter_video_frames(self.source, self.offset)))
            source = itertools.islice(source, start, None)
        else:
            source = ((name, read_rgb(p)) for name, p in zip((self.names or [])[start:], self.paths[start:]))
        for i, (name, img) in enumerate(source, start=start):
            if self.limit is not None and i >= self.limit:
                return
            if self.size is None:
                self.size = img.shape[:2]
            elif img.shape[:2] != tuple(self.size):
                raise InputError(
                    f"frame {name} of {self.source} is {img.shape[1]}x{img.shape[0]} but the clip's "
                    f"frames are {self.size[1]}x{self.size[0]}; all frames must have the same size"
                )
            yield name, img

    def name(self, index: int) -> str:
        """The name of frame ``index`` (its file stem, or its number in the video, ``00000``…)."""
        return self.names[index] if self.names is not None else f"{self.offset + index:05d}"

    @property
    def count(self) -> int | None:
        """Number of frames to process (None for a video: known only once decoded)."""
        if self.names is None:
            return None
        return len(self.names) if self.limit is None else min(len(self.names), self.limit)


def open_clip(
    path: str | os.PathLike, limit: int | None = None, fps: float | Fraction | None = None, offset: int = 0
) -> Clip:
    """A folder of frames (all headers checked: readable, one size) or a video file; InputError otherwise. The clip
    starts at frame ``offset`` of the input (0-based) and has at most ``limit`` frames."""
    path = Path(path)
    if limit is not None and limit < 1:
        raise InputError(f"--max-frames must be at least 1, got {limit}")
    if offset < 0:
        raise InputError(f"--start-frame must be at least 0, got {offset}")
    if path.is_dir():
        paths = list_frames(path)
        if offset >= len(paths):
            raise InputError(f"--start-frame {offset} is past the last frame of {path} ({len(paths)} frames)")
        paths = paths[offset:]
        if limit is not None:
            paths = paths[:limit]
        size = image_size(paths[0])
        for p in paths[1:]:
            s = image_size(p)
            if s != size:
                raise InputError(
                    f"frame {p} is {s[1]}x{s[0]} but {paths[0].name} is {size[1]}x{size[0]}; "
                    f"all frames of a clip must have the same size"
                )
        return Clip(path, False, size, fps or 25.0, [p.stem for p in paths], paths, limit, offset)
    if path.is_file() and is_video_file(path):
        if offset:
            _check_video_offset(path, offset)
        return Clip(path, True, None, fps or video_fps(path), None, [], limit, offset)
    if path.is_file():
        raise InputError(
            f"input {path} is neither a folder of frames nor a video file "
            f"({', '.join(s for s in ('.mp4', '.avi', '.mov', '.mkv', '.webm'))}, ...)"
        )
    raise InputError(f"input not found: {path}")


def _check_video_offset(path: Path, offset: int) -> None:
    from svcnet.data.video import probe_video

    frames = probe_video(path).frames
    if offset >= frames:
        raise InputError(f"--start-frame {offset} is past the last frame of {path} ({frames} frames)")


def _scribble_key(stem: str) -> str:
    """Frame/scribble matching key: ``_<H>p`` suffix removed, numbers compared by value (``007`` = ``7``)."""
    m = _SIZE_SUFFIX.match(stem)
    if m:
        stem = m.group("stem")
    return str(int(stem)) if stem.isdigit() else stem


@dataclass
class Scribbles:
    """Per-frame scribble files (``per_frame``) or one first-frame image to carry along the flow (``first``)."""

    source: Path
    per_frame: dict[str, Path] | None = None  # matching key -> file
    first: Path | None = None

    @property
    def carried(self) -> bool:
        return self.first is not None

    def path_for(self, frame_name: str) -> Path:
        """The scribble file of a frame; InputError naming the expected files when there is none."""
        assert self.per_frame is not None
        p = self.per_frame.get(_scribble_key(frame_name))
        if p is None:
            raise InputError(
                f"no scribble for frame {frame_name} in {self.source} (expected {frame_name}_256p.png "
                f"or {frame_name}.png; black = no scribble)"
            )
        return p

    def read(self, frame_name: str) -> np.ndarray:
        """The uint8 RGB scribble image of a frame (per-frame mode)."""
        return read_rgb(self.path_for(frame_name))

    def keyframes(self, clip: Clip) -> dict[int, Path]:
        """Frame index → scribble file of every frame that has one (the single image is frame 0's)."""
        if self.first is not None:
            return {0: self.first}
        assert self.per_frame is not None
        if clip.names is not None:
            keys = {_scribble_key(n): i for i, n in enumerate(clip.names[: clip.count])}
            return {keys[k]: p for k, p in self.per_frame.items() if k in keys}
        # video frames are 00000, 00001, ... counted from the input's first frame
        found = {int(k) - clip.offset: p for k, p in self.per_frame.items() if k.isdigit() and int(k) >= clip.offset}
        return dict(sorted(found.items()))


def _check_scribble_size(path: Path, frame_size: tuple[int, int] | None, work_size: tuple[int, int]) -> None:
    s = image_size(path)
    allowed = {tuple(work_size)} | ({tuple(frame_size)} if frame_size else set())
    if s not in allowed:
        want = " or ".join(f"{w}x{h}" for h, w in sorted(allowed))
        sizes = f"{s[1]}x{s[0]} (W x H); scribbles must be {want}"
        raise InputError(f"scribble {path} is {sizes} (W x H: the frame size or the working size)")


def open_scribbles(
    path: str | os.PathLike, clip: Clip, work_size: tuple[int, int], keyframes: bool = False
) -> Scribbles:
    """Match scribbles to the clip's frames and check their sizes; InputError on a missing, extra or wrong-size file.

    ``keyframes``: a folder may hold scribbles for some frames only (keyframes, carried to the others)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"scribble {path} is not an image file ({', '.join(IMAGE_SUFFIXES)})")
        if clip.size is not None:  # a video's size is known once decoding starts (checked then)
            _check_scribble_size(path, clip.size, work_size)
        return Scribbles(path, first=path)
    if not path.is_dir():
        raise InputError(f"scribbles not found: {path} (give a folder of per-frame scribbles or one image)")
    files = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
    if not [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]:
        raise InputError(f"no scribble images ({', '.join(IMAGE_SUFFIXES)}) in {path}")
    files = list_frames(path)
    index: dict[str, Path] = {}
    for p in files:
        key = _scribble_key(p.stem)
        if key in index:
            keep = [q for q in (index[key], p) if q.stem.endswith(f"_{work_size[0]}p")]
            if len(keep) != 1:
                raise InputError(f"two scribbles for the same frame in {path}: {index[key].name} and {p.name}")
            index[key] = keep[0]
        else:
            index[key] = p
    scribbles = Scribbles(path, per_frame=index)
    if clip.names is not None:
        wanted = [_scribble_key(n) for n in clip.names]
        for name in clip.names:
            if keyframes and _scribble_key(name) not in index:
                continue
            _check_scribble_size(scribbles.path_for(name), clip.size, work_size)
        extra = sorted(set(index) - set(wanted))
        if extra and clip.limit is None and clip.offset == 0:
            raise InputError(
                f"scribble count mismatch: {len(index)} scribble images in {path} for {len(wanted)} "
                f"frames in {clip.source} (e.g. {index[extra[0]].name} matches no frame)"
            )
    return scribbles


class FrameCursor:
    """Reads runs of frames of a clip in increasing order without decoding a video again from its start each time."""

    def __init__(self, clip: Clip) -> None:
        self._clip = clip
        self._it: Iterator[tuple[str, np.ndarray]] | None = None
        self._next = 0

    def read(self, start: int, stop: int | None) -> Iterator[tuple[str, np.ndarray]]:
        """Frames ``start`` … ``stop - 1`` (to the end when ``stop`` is None)."""
        if self._it is None or start < self._next or not self._clip.is_video:
            self._it, self._next = self._clip.frames(start), start
        for _ in itertools.islice(self._it, start - self._next):  # skip forward
            pass
        self._next = start
        for item in itertools.islice(self._it, None if stop is None else stop - start):
            self._next += 1
            yield item
