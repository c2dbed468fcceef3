"""A studio project: the input clip (video file or folder of frames) and the folder where everything is saved.

Layout of the project folder: ``studio.json`` (the input it belongs to), ``scribbles/<frame>.png`` (the painted
keyframes in the official format: RGB at the frame size, black = no scribble; what ``svcnet colorize --scribbles``
reads), ``previews/`` (the last preview images), ``job/`` (the colorize run: state, log, per-frame scribbles, result).
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svcnet.data.atomic import write_bytes_atomic, write_text_atomic
from svcnet.data.frames import encode_png, read_rgb
from svcnet.errors import InputError
from svcnet.infer.inputs import Clip, open_clip

SCRIBBLES = "scribbles"
PREVIEWS = "previews"
JOB = "job"
META = "studio.json"
CACHED_FRAMES = 8  # decoded frames a project keeps (the last ones read)
SEEK_AFTER = 48  # a video frame further ahead than this from the decoding position is reached by a seek


@dataclass(frozen=True)
class Shot:
    """Frames ``start`` … ``end - 1`` of the clip."""

    start: int
    end: int


def default_project_dir(input_path: Path) -> Path:
    """``<input>.studio`` next to the input (``clip/`` → ``clip.studio/``, ``a.mp4`` → ``a.studio/``)."""
    input_path = Path(input_path).resolve()
    return input_path.with_name((input_path.stem if input_path.is_file() else input_path.name) + ".studio")


def detect_clip_shots(frames: Iterable[np.ndarray], fps: float) -> list[Shot]:
    """The clip's shots (the film mode's shot detection; frames streamed, none kept)."""
    from svcnet.data.shots import detect_shots

    return [Shot(s.start, s.end) for s in detect_shots(frames, fps)]


class FrameCache:
    """The last ``size`` frames read, by index (least recently used dropped first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._frames)

    def get(self, index: int) -> np.ndarray | None:
        frame = self._frames.get(index)
        if frame is not None:
            self._frames.move_to_end(index)
        return frame

    def put(self, index: int, frame: np.ndarray) -> None:
        self._frames[index] = frame
        self._frames.move_to_end(index)
        while len(self._frames) > self.size:
            self._frames.popitem(last=False)


class VideoFrames:
    """Frame ``i`` of a video on demand: a seek to the keyframe before it and decoding up to it, by the frame
    timestamps found while the clip was scanned; the next frames continue the same decoding without a seek."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pts: list[int] = []  # presentation timestamp of every frame, in order (filled by scan())
        self._order: dict[int, int] | None = None  # timestamp -> frame index
        self._container = None
        self._decoded = None  # iterator of (index, frame) of the open decoding
        self._next = 0  # index of the frame the open decoding gives next
        self._lock = threading.Lock()

    def scan(self) -> Iterator[np.ndarray]:
        """Every frame once, in order (uint8 RGB), recording its timestamp."""
        import av

        try:
            with av.open(str(self.path)) as container:
                for frame in container.decode(video=0):
                    self.pts.append(frame.pts)
                    yield frame.to_ndarray(format="rgb24")
        except Exception as exc:  # PyAV raises many error types for broken streams
            raise InputError(f"cannot decode video {self.path}: {exc}") from exc

    def read(self, index: int) -> np.ndarray:
        """uint8 RGB frame ``index`` (from the keyframe before it, or from the start when the seek missed it)."""
        with self._lock:
            for seek in (True, False):
                if not seek or self._decoded is None or not self._next <= index < self._next + SEEK_AFTER:
                    self._restart(index if seek else 0)
                for i, frame in self._decoded:
                    self._next = i + 1
                    if i == index:
                        return frame.to_ndarray(format="rgb24")
                    if i > index:
                        break
        raise InputError(f"frame {index} of {self.path} could not be decoded again")

    def _restart(self, index: int) -> None:
        """A new decoding from the keyframe at or before frame ``index`` (from the start without timestamps)."""
        if self._container is None:
            import av

            self._container = av.open(str(self.path))
        stream = self._container.streams.video[0]
        if None in self.pts or index == 0:
            self._container.seek(0, stream=stream)
            self._decoded = enumerate(self._container.decode(stream))
        else:
            if self._order is None:
                self._order = {pts: i for i, pts in enumerate(self.pts)}
            self._container.seek(self.pts[index], stream=stream, backward=True, any_frame=False)
            order = self._order
            self._decoded = ((order[f.pts], f) for f in self._container.decode(stream) if f.pts in order)
        self._next = 0

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


class Project:
    """An opened clip with its project folder. Frames are read on demand (a file of a folder, or a seek in a video)
    and only the last few are kept, so a long reel needs little memory; opening scans the clip once (names, size,
    shots)."""

    def __init__(self, input_path: str | os.PathLike, folder: str | os.PathLike | None = None) -> None:
        self.input = Path(input_path).resolve()
        self.clip: Clip = open_clip(self.input)
        self.folder = Path(folder).resolve() if folder else default_project_dir(self.input)
        self._check_folder()
        self._cache = FrameCache(CACHED_FRAMES)
        self._video = VideoFrames(self.input) if self.clip.is_video else None
        self.names: list[str] = []
        self.size: tuple[int, int] = (0, 0)  # (H, W) of the frames
        self.shots = detect_clip_shots(self._scan(), self.clip.fps)
        if len(self.names) < 2:
            raise InputError(
                f"{self.input} has {len(self.names)} frame; SVCNet colourises clips of at least 2 frames "
                "(use `svcnet colorize --method cpnet` for a single image)"
            )
        (self.folder / SCRIBBLES).mkdir(parents=True, exist_ok=True)
        (self.folder / PREVIEWS).mkdir(exist_ok=True)
        write_text_atomic(self.folder / META, json.dumps({"input": str(self.input)}, indent=2) + "\n")

    def _check_folder(self) -> None:
        meta = self.folder / META
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"project {self.folder} exists and is not a folder; choose another project folder")
        if meta.is_file():
            try:
                owner = json.loads(meta.read_text()).get("input")
            except (OSError, ValueError, AttributeError):
                owner = None
            if owner and Path(owner) != self.input:
                raise InputError(
                    f"project {self.folder} belongs to {owner}, not {self.input}; choose another project folder"
                )

    def _scan(self) -> Iterator[np.ndarray]:
        """Every frame once (checked for size, its name recorded), for the shot detection."""
        source = self._video.scan() if self._video is not None else (rgb for _, rgb in self.clip.frames())
        for i, rgb in enumerate(source):
            if i == 0:
                self.size = tuple(rgb.shape[:2])
            elif rgb.shape[:2] != self.size:
                raise InputError(f"frame {i} of {self.input} is not {self.size[1]}x{self.size[0]} like the first")
            self.names.append(self.clip.name(i))
            yield rgb
        if not self.names:
            raise InputError(f"{self.input} has no frames")

    # ---------------------------------------------------------------------------------------------------- frames
    def __len__(self) -> int:
        return len(self.names)

    @property
    def cached_frames(self) -> int:
        """How many decoded frames the project holds now (at most CACHED_FRAMES)."""
        return len(self._cache)

    def frame(self, index: int) -> np.ndarray:
        """uint8 RGB frame ``index``."""
        if not 0 <= index < len(self.names):
            raise InputError(f"frame {index} is outside the clip (0 … {len(self.names) - 1})")
        frame = self._cache.get(index)
        if frame is None:
            frame = self._video.read(index) if self._video is not None else read_rgb(self.clip.paths[index])
            self._cache.put(index, frame)
        return frame

    def frames(self, indices: Iterable[int]) -> Iterator[np.ndarray]:
        """The frames ``indices``, one at a time."""
        return (self.frame(i) for i in indices)

    def shot_of(self, index: int) -> Shot:
        for shot in self.shots:
            if shot.start <= index < shot.end:
                return shot
        raise InputError(f"frame {index} is in no shot")

    # ------------------------------------------------------------------------------------------------- scribbles
    def scribble_path(self, index: int) -> Path:
        return self.folder / SCRIBBLES / f"{self.names[index]}.png"

    def keyframes(self) -> dict[int, Path]:
        """Frame index → scribble file of every painted keyframe."""
        return {i: self.scribble_path(i) for i in range(len(self.names)) if self.scribble_path(i).is_file()}

    def scribble(self, index: int) -> np.ndarray:
        """The keyframe's uint8 RGB scribble (all black when none was saved)."""
        path = self.scribble_path(index)
        if path.is_file():
            img = read_rgb(path)
            if img.shape[:2] == self.size:
                return img
        return np.zeros((*self.size, 3), np.uint8)

    def save_scribble(self, index: int, rgb: np.ndarray) -> Path | None:
        """Write frame ``index``'s scribble (official format); an all-black image removes the keyframe."""
        if rgb.shape[:2] != self.size:
            raise InputError(
                f"the scribble is {rgb.shape[1]}x{rgb.shape[0]} but the frames are {self.size[1]}x{self.size[0]}"
            )
        path = self.scribble_path(index)
        if not rgb.any():
            path.unlink(missing_ok=True)
            return None
        write_bytes_atomic(path, encode_png(rgb))
        return path

    def preview_path(self, name: str) -> Path:
        return self.folder / PREVIEWS / name
