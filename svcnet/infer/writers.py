"""Output of ``svcnet colorize``: lossless PNG frames, a video and ``metadata.json``, written as one atomic folder.

Layout of OUT: ``frames/<input frame name>.png`` (one per input frame, same name stem), ``colorized.mp4`` (encoded
once from the PNG frames when the clip is done, by :func:`svcnet.data.video.encode_video`: the exact frame rate, the
input video's audio stream copied; ``colorized.mkv`` when mp4 cannot hold that audio), ``metadata.json``. Everything
is written into a temporary sibling folder that is renamed onto OUT only when the whole clip is done, so an error or
interruption leaves OUT as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from svcnet.data.atomic import atomic_path, remove_stale_temps
from svcnet.data.frames import encode_png
from svcnet.data.video import VideoSettings, encode_video, output_suffix, parse_fps, probe_video
from svcnet.errors import InputError

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
    """Collects frames into the temporary output folder; :meth:`finish` encodes the video and adds the metadata."""

    def __init__(
        self,
        root: Path,
        fps: float | Fraction,
        video: bool,
        settings: VideoSettings = VideoSettings(),
        audio_from: Path | None = None,
    ) -> None:
        self.root = root
        self.frames_dir = root / FRAMES
        self.frames_dir.mkdir(parents=True)
        self._fps = parse_fps(fps)
        self._video = video
        self._settings = settings
        self._audio_from = audio_from
        self.names: list[str] = []

    def add(self, name: str, rgb: np.ndarray) -> None:
        """Write one uint8 RGB frame as ``frames/<name>.png``."""
        if name in self.names:
            raise InputError(f"two frames are named {name}")
        (self.frames_dir / f"{name}.png").write_bytes(encode_png(rgb))
        self.names.append(name)

    def close(self) -> None:
        """Nothing is held open: the video is encoded by :meth:`finish` from the PNG frames."""

    def finish(self, metadata: dict[str, Any]) -> None:
        """Encode the video once from the finished PNG frames (exact rate, the input's audio) and write the metadata."""
        encoding = None
        if self._video:
            audio = probe_video(self._audio_from).audio if self._audio_from is not None else None
            name = f"{Path(VIDEO).stem}{output_suffix(self._settings, audio.codec if audio else None)}"
            paths = [self.frames_dir / f"{n}.png" for n in self.names]
            encoding = encode_video(paths, self.root / name, self._fps, self._settings, self._audio_from)
        video = encoding["file"] if encoding else None
        meta = {"tool": TOOL, **metadata, "frames": self.names, "video": video, "video_encoding": encoding}
        (self.root / METADATA).write_text(json.dumps(meta, indent=2) + "\n")


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
