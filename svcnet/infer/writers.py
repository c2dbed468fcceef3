"""Output of ``svcnet colorize``: lossless PNG frames, a video and ``metadata.json``, written as one atomic folder.

Layout of OUT: ``frames/<input frame name>.png`` (one per input frame, same name stem), ``colorized.mp4`` (encoded
once from the PNG frames when the clip is done, by :func:`svcnet.data.video.encode_video`: the exact frame rate, the
input video's audio stream copied; ``colorized.mkv`` when mp4 cannot hold that audio), ``metadata.json``. Everything
is written into a sibling folder that is renamed onto OUT only when the whole clip is done, so an error or
interruption leaves OUT as it was: a temporary one (:func:`clip_output`), or for ``svcnet colorize`` a work folder
``.OUT.work`` that survives an interruption and lets the next run with the same request continue
(:class:`WorkFolder`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from svcnet.data.atomic import atomic_path, remove_stale_temps, write_text_atomic
from svcnet.data.frames import encode_png
from svcnet.data.video import VideoSettings, encode_video, output_suffix, parse_fps, probe_video
from svcnet.errors import InputError

log = logging.getLogger(__name__)

METADATA = "metadata.json"
VIDEO = "colorized.mp4"
FRAMES = "frames"
TOOL = "svcnet colorize"


def previous_metadata(out: Path) -> dict | None:
    """The metadata of a finished earlier run in ``out`` (None when there is none).

    Raises InputError when ``out`` exists, is not empty and is not an earlier output (it would be replaced).
    """
    if not out.exists():
        return None
    if not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder; choose another --out")
    meta = out / METADATA
    if meta.is_file():
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("tool") == TOOL:
            return data
    if any(out.iterdir()):
        raise InputError(
            f"output folder {out} is not empty and is not an earlier '{TOOL}' output; "
            f"choose another --out (it would be replaced)"
        )
    return None


class ClipWriter:
    """Collects frames into the (temporary or work) output folder; :meth:`finish` encodes the video from the written
    PNG frames and adds the metadata (the video is made once, at the end, so a continued run never appends to a
    half-written file)."""

    def __init__(
        self,
        root: Path,
        fps: float | Fraction,
        video: bool,
        settings: VideoSettings = VideoSettings(),
        audio_from: Path | None = None,
        audio_skip: Fraction = Fraction(0),
    ) -> None:
        self.root = root
        self.frames_dir = root / FRAMES
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self._fps = parse_fps(fps)
        self._video = video
        self._settings = settings
        self._audio_from = audio_from
        self._audio_skip = audio_skip  # seconds of audio_from before the first frame (a range of its frames)
        self.names: list[str] = []
        self._seen: set[str] = set()

    def resume(self, names: list[str]) -> None:
        """Frames an earlier, interrupted run already wrote here (in order)."""
        self.names = list(names)
        self._seen = set(names)

    def add(self, name: str, rgb: np.ndarray) -> None:
        """Write one uint8 RGB frame as ``frames/<name>.png``."""
        if name in self._seen:
            raise InputError(f"two frames are named {name}")
        (self.frames_dir / f"{name}.png").write_bytes(encode_png(rgb))
        self.names.append(name)
        self._seen.add(name)

    def close(self) -> None:
        """Nothing is held open between frames: the video is encoded by :meth:`finish` from the PNG frames."""

    def finish(self, metadata: dict[str, Any]) -> None:
        """Encode the video once from the finished PNG frames (exact rate, the input's audio) and write the metadata."""
        encoding = None
        if self._video and self.names:
            audio = probe_video(self._audio_from).audio if self._audio_from is not None else None
            name = f"{Path(VIDEO).stem}{output_suffix(self._settings, audio.codec if audio else None)}"
            paths = [self.frames_dir / f"{n}.png" for n in self.names]
            encoding = encode_video(
                paths, self.root / name, self._fps, self._settings, self._audio_from, self._audio_skip
            )
        video = encoding["file"] if encoding else None
        meta = {"tool": TOOL, **metadata, "frames": self.names, "video": video, "video_encoding": encoding}
        write_text_atomic(self.root / METADATA, json.dumps(meta, indent=2) + "\n")


@contextlib.contextmanager
def clip_output(
    out: str | os.PathLike,
    fps: float | Fraction,
    video: bool = True,
    settings: VideoSettings = VideoSettings(),
    audio_from: Path | None = None,
) -> Iterator[ClipWriter]:
    """A :class:`ClipWriter` on a temporary folder renamed onto ``out`` when the block succeeds."""
    out = Path(out)
    remove_stale_temps(out)
    with atomic_path(out) as tmp:
        writer = ClipWriter(tmp, fps, video, settings, audio_from)
        try:
            yield writer
        finally:
            writer.close()


class WorkFolder:
    """``.<OUT>.work`` next to OUT: the output being built (``out/``), the state of the run (``state.pt``), what it
    was started with (``request.json``) and scratch files; reused by a later run with the same request."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.root = self.out.parent / f".{self.out.name}.work"
        self.out_dir = self.root / "out"
        self._key = self.root / "request.json"
        self._state = self.root / "state.pt"

    def open(self, key: dict[str, Any], force: bool = False) -> bool:
        """Use the work folder of an earlier run started with the same ``key`` (returns True), or start a new one."""
        if self.root.is_dir():
            try:
                old = json.loads(self._key.read_text())
            except (OSError, ValueError):
                old = None
            if old == key and not force:
                return True
            reason = "--force" if force else "another request, other weights or another device"
            log.info("discarding the work folder %s of an earlier, unfinished run (%s)", self.root, reason)
            self.discard()
        self.out_dir.mkdir(parents=True)
        write_text_atomic(self._key, json.dumps(key, indent=2, sort_keys=True) + "\n")
        return False

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, *parts: str) -> Path:
        """A scratch path in the work folder (its parent folder is created)."""
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def save(self, name: str, obj: Any) -> None:
        """``torch.save`` into the work folder, replacing the file atomically (no fsync: meant to survive a killed
        process, not a power cut)."""
        import io

        import torch

        buf = io.BytesIO()
        torch.save(obj, buf)
        tmp = self.root / f".{name}.tmp"
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, self.root / name)

    def load(self, name: str) -> Any:
        import torch

        path = self.root / name
        return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None

    def publish(self) -> None:
        """Move the finished output onto OUT (replacing an earlier output there) and remove the work folder."""
        if self.out.is_dir() and not self.out.is_symlink():
            shutil.rmtree(self.out)
        os.replace(self.out_dir, self.out)
        self.discard()
