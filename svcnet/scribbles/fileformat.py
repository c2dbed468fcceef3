"""The official scribble file format (docs/official.md §4.3): one RGB PNG per frame, working size, ``<frame>_<H>p.png``
(``<frame>_256p.png`` for 448×256), black (0, 0, 0) = no scribble, coloured squares elsewhere.

Reading matches files to frames by name (numeric order, never file-system order); writing puts a whole clip folder
(PNGs + ``metadata.json``) in place atomically, so a reader never sees half a clip.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from svcnet.data.atomic import atomic_path
from svcnet.data.frames import encode_png, natural_key, read_rgb
from svcnet.errors import InputError

METADATA = "metadata.json"
_NAME = re.compile(r"^(?P<stem>.+)_(?P<height>\d+)p$")


def scribble_filename(frame_stem: str, height: int = 256) -> str:
    """``<frame>_<H>p.png``, the official name of a frame's scribble."""
    return f"{frame_stem}_{height}p.png"


def list_scribbles(folder: str | os.PathLike, height: int | None = None) -> dict[str, Path]:
    """Scribble files of a folder by frame stem, in numeric order: only ``<frame>_<H>p.png`` files.

    With ``height`` None the folder must hold one height; other files (``<frame>.png``, ``*_not_widen.png``, metadata)
    are ignored. InputError when the folder is missing, has no scribble files or mixes heights.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"scribble folder not found: {folder}")
    found: dict[int, dict[str, Path]] = {}
    for p in folder.iterdir():
        m = _NAME.match(p.stem)
        if p.is_file() and p.suffix.lower() == ".png" and not p.name.startswith(".") and m:
            found.setdefault(int(m["height"]), {})[m["stem"]] = p
    if height is not None:
        found = {height: found.get(height, {})}
    found = {h: v for h, v in found.items() if v}
    if not found:
        want = f"<frame>_{height}p.png" if height else "<frame>_<H>p.png"
        raise InputError(f"no scribble files ({want}) in {folder}")
    if len(found) > 1:
        raise InputError(f"{folder} mixes scribble heights {sorted(found)}; pass the height to use")
    (files,) = found.values()
    return {k: files[k] for k in sorted(files, key=natural_key)}


def match_scribbles(scribbles: Mapping[str, Path], frame_stems: Sequence[str], folder: str = "") -> list[Path]:
    """The scribble file of each frame; InputError naming the first missing or extra one."""
    missing = [s for s in frame_stems if s not in scribbles]
    extra = sorted(set(scribbles) - set(frame_stems), key=natural_key)
    where = f" in {folder}" if folder else ""
    if missing:
        raise InputError(
            f"{len(scribbles)} scribbles{where} for {len(frame_stems)} frames: none for frame {missing[0]!r}"
        )
    if extra:
        raise InputError(
            f"{len(scribbles)} scribbles{where} for {len(frame_stems)} frames: "
            f"{scribbles[extra[0]].name} has no frame {extra[0]!r}"
        )
    return [scribbles[s] for s in frame_stems]


def read_scribble(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """A scribble image as uint8 RGB; InputError when unreadable or not ``size`` (H, W)."""
    img = read_rgb(path)
    if size is not None and img.shape[:2] != tuple(size):
        raise InputError(f"scribble {path} is {img.shape[1]}x{img.shape[0]}, expected {size[1]}x{size[0]}")
    return img


def write_scribble_clip(
    dest: str | os.PathLike, frame_stems: Sequence[str], images: Sequence[np.ndarray], metadata: Mapping | None = None
) -> Path:
    """Write a clip's scribbles as ``dest/<frame>_<H>p.png`` (+ ``metadata.json``), replacing ``dest`` atomically."""
    if len(frame_stems) != len(images):
        raise ValueError(f"{len(images)} scribble images for {len(frame_stems)} frames")
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        tmp.mkdir()
        for stem, img in zip(frame_stems, images):
            if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(f"scribble for {stem} is not uint8 RGB: {img.dtype} {img.shape}")
            (tmp / scribble_filename(stem, img.shape[0])).write_bytes(encode_png(img))
        if metadata is not None:
            (tmp / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
    return dest
