"""A studio project: the input clip (video file or folder of frames) and the folder where everything is saved.

Layout of the project folder: ``studio.json`` (the input it belongs to), ``scribbles/<frame>.png`` (the painted
keyframes in the official format: RGB at the frame size, black = no scribble; what ``svcnet colorize --scribbles``
reads), ``previews/`` (the last preview images), ``job/`` (the colorize run: state, log, per-frame scribbles, result).
"""

from __future__ import annotations

import json
import os
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


@dataclass(frozen=True)
class Shot:
    """Frames ``start`` … ``end - 1`` of the clip."""

    start: int
    end: int


def default_project_dir(input_path: Path) -> Path:
    """``<input>.studio`` next to the input (``clip/`` → ``clip.studio/``, ``a.mp4`` → ``a.studio/``)."""
    input_path = Path(input_path).resolve()
    return input_path.with_name((input_path.stem if input_path.is_file() else input_path.name) + ".studio")


def detect_clip_shots(frames: list[np.ndarray], fps: float) -> list[Shot]:
    """The clip's shots: the film mode's shot detection when installed, else one shot for the whole clip."""
    try:
        from svcnet.data.shots import detect_shots
    except ImportError:
        return [Shot(0, len(frames))]
    return [Shot(s.start, s.end) for s in detect_shots(iter(frames), fps)]


class Project:
    """An opened clip with its project folder; frames are decoded once and kept (the studio is for clips and shots)."""

    def __init__(self, input_path: str | os.PathLike, folder: str | os.PathLike | None = None) -> None:
        self.input = Path(input_path).resolve()
        self.clip: Clip = open_clip(self.input)
        self.folder = Path(folder).resolve() if folder else default_project_dir(self.input)
        self._check_folder()
        self.names, self._frames = self._read_frames()
        if len(self.names) < 2:
            raise InputError(
                f"{self.input} has {len(self.names)} frame; SVCNet colourises clips of at least 2 frames "
                "(use `svcnet colorize --method cpnet` for a single image)"
            )
        self.shots = detect_clip_shots(self._frames, self.clip.fps)
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

    def _read_frames(self) -> tuple[list[str], list[np.ndarray]]:
        names: list[str] = []
        frames: list[np.ndarray] = []
        for name, rgb in self.clip.frames():
            names.append(name)
            frames.append(rgb)
        if not frames:
            raise InputError(f"{self.input} has no frames")
        return names, frames

    # ---------------------------------------------------------------------------------------------------- frames
    def __len__(self) -> int:
        return len(self.names)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frames."""
        return tuple(self._frames[0].shape[:2])

    def frame(self, index: int) -> np.ndarray:
        """uint8 RGB frame ``index``."""
        if not 0 <= index < len(self.names):
            raise InputError(f"frame {index} is outside the clip (0 … {len(self.names) - 1})")
        return self._frames[index]

    def frames(self, indices: list[int]) -> list[np.ndarray]:
        return [self.frame(i) for i in indices]

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
