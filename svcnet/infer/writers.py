"""Output of ``svcnet colorize``: lossless PNG frames, an mp4 and ``metadata.json``, written as one atomic folder.

Layout of OUT: ``frames/<input frame name>.png`` (one per input frame, same name stem), ``colorized.mp4`` (H.264,
odd sizes padded by one edge pixel), ``metadata.json``. Everything is written into a temporary sibling folder that is
renamed onto OUT only when the whole clip is done, so an error or interruption leaves OUT as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from svcnet.data.atomic import atomic_path, remove_stale_temps
from svcnet.data.frames import encode_png
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


class _Mp4:
    """Incremental H.264 writer (PyAV through imageio)."""

    def __init__(self, path: Path, fps: float) -> None:
        import imageio.v3 as iio

        self._file = iio.imopen(path, "w", plugin="pyav", extension=".mp4")
        self._file.init_video_stream("libx264", fps=fps)

    def write(self, img: np.ndarray) -> None:
        h, w = img.shape[:2]
        if h % 2 or w % 2:
            img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        self._file.write_frame(np.ascontiguousarray(img))

    def close(self) -> None:
        self._file.close()


class ClipWriter:
    """Collects frames into the temporary output folder; :meth:`finish` adds the metadata."""

    def __init__(self, root: Path, fps: float, video: bool) -> None:
        self.root = root
        self.frames_dir = root / FRAMES
        self.frames_dir.mkdir(parents=True)
        self._fps = fps
        self._video = video
        self._mp4: _Mp4 | None = None
        self.names: list[str] = []

    def add(self, name: str, rgb: np.ndarray) -> None:
        """Write one uint8 RGB frame as ``frames/<name>.png`` and append it to the mp4."""
        if name in self.names:
            raise InputError(f"two frames are named {name}")
        (self.frames_dir / f"{name}.png").write_bytes(encode_png(rgb))
        if self._video:
            if self._mp4 is None:
                self._mp4 = _Mp4(self.root / VIDEO, self._fps)
            self._mp4.write(rgb)
        self.names.append(name)

    def close(self) -> None:
        if self._mp4 is not None:
            self._mp4.close()
            self._mp4 = None

    def finish(self, metadata: dict[str, Any]) -> None:
        self.close()
        meta = {"tool": TOOL, **metadata, "frames": self.names, "video": VIDEO if self._video else None}
        (self.root / METADATA).write_text(json.dumps(meta, indent=2) + "\n")


@contextlib.contextmanager
def clip_output(out: str | os.PathLike, fps: float, video: bool = True) -> Iterator[ClipWriter]:
    """A :class:`ClipWriter` on a temporary folder renamed onto ``out`` when the block succeeds."""
    out = Path(out)
    remove_stale_temps(out)
    with atomic_path(out) as tmp:
        writer = ClipWriter(tmp, fps, video)
        try:
            yield writer
        finally:
            writer.close()
