"""Clip sets on disk: discovery in numeric frame order, with optional per-frame maps (masks, saliency).

Accepted layouts of a clip set folder ``root``:

* ``root/<clip>/frames/*.jpg|png`` with optional ``root/<clip>/masks/*.png`` and ``root/<clip>/saliency/*.png``;
* the flat layout ``root/<clip>/*.jpg`` (maps, if any, in ``root/<clip>/masks/`` ...);
* the official DAVIS layout ``root/JPEGImages/480p/<clip>/`` + ``root/Annotations/480p/<clip>/`` (masks);
* a single clip: ``root/frames/`` or images directly in ``root``;
* one level of test-set tags, ``root/<tag>/<clip>/...`` (a tag folder holds clip folders, no images): the clip is named
  by its id ``"<tag>/<clip>"`` (the DAVIS-Videvo validation release: tags ``DAVIS`` and ``videvo``).

A map file belongs to the frame with the same stem (``masks/00012.png`` ↔ ``frames/00012.jpg``); a map folder must
cover every frame. Problems raise :class:`~svcnet.errors.InputError` naming the file or folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from svcnet.data.frames import IMAGE_SUFFIXES, image_size, list_frames, natural_key
from svcnet.errors import InputError

MAP_KINDS = ("masks", "saliency")
FRAMES_DIR = "frames"


@dataclasses.dataclass(frozen=True)
class Clip:
    """One clip: its frames in numeric order, maps by kind (same length and stems), and the frame size."""

    name: str
    frames: tuple[Path, ...]
    maps: Mapping[str, tuple[Path, ...]]
    height: int
    width: int

    @property
    def stems(self) -> tuple[str, ...]:
        """Frame names without suffix, in numeric order (the ``<frame>`` part of lmdb keys)."""
        return tuple(p.stem for p in self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def head(self, max_frames: int) -> Clip:
        """The first ``max_frames`` frames (all when 0)."""
        if max_frames <= 0 or max_frames >= len(self.frames):
            return self
        return dataclasses.replace(
            self,
            frames=self.frames[:max_frames],
            maps={k: v[:max_frames] for k, v in self.maps.items()},
        )


def _has_images(folder: Path) -> bool:
    return any(
        p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()
    )


def _subdirs(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: natural_key(p.name)
    )


def _match_maps(kind: str, frames: Sequence[Path], maps: Sequence[Path], folder: Path) -> tuple[Path, ...]:
    by_stem: dict[str, Path] = {}
    for p in maps:
        if p.stem in by_stem:
            raise InputError(f"two {kind} files for frame {p.stem!r}: {by_stem[p.stem]} and {p}")
        by_stem[p.stem] = p
    frame_stems = [p.stem for p in frames]
    missing = [s for s in frame_stems if s not in by_stem]
    extra = sorted(set(by_stem) - set(frame_stems), key=natural_key)
    if missing:
        raise InputError(
            f"{folder}: {len(maps)} {kind} file(s) for {len(frames)} frames; "
            f"no {kind} file for frame {frames[frame_stems.index(missing[0])]} (expected {folder / missing[0]}.png)"
        )
    if extra:
        raise InputError(f"{kind} file without a frame of the same name: {by_stem[extra[0]]}")
    return tuple(by_stem[s] for s in frame_stems)


def load_clip(
    name: str,
    frames_dir: str | os.PathLike,
    map_dirs: Mapping[str, str | os.PathLike] | None = None,
    check_all: bool = True,
) -> Clip:
    """A :class:`Clip` from a frame folder and optional map folders (kind → folder; absent folders are skipped).

    With ``check_all`` every frame and map header is read (size and readability); otherwise only the first frame.
    """
    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise InputError(f"clip {name!r}: frame folder not found: {frames_dir}")
    frames = tuple(list_frames(frames_dir))
    height, width = image_size(frames[0])
    maps: dict[str, tuple[Path, ...]] = {}
    for kind, folder in (map_dirs or {}).items():
        folder = Path(folder)
        if not folder.is_dir():
            continue
        files = [
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
        ]
        if not files:
            raise InputError(f"clip {name!r}: {kind} folder is empty: {folder}")
        maps[kind] = _match_maps(kind, frames, sorted(files, key=lambda p: natural_key(p.name)), folder)
    clip = Clip(name=name, frames=frames, maps=maps, height=height, width=width)
    if check_all:
        check_sizes(clip)
    return clip


def _clip_folders(root: Path) -> list[tuple[str, Path, dict[str, Path]]]:
    """(name, frames folder, map folders) for each clip of ``root`` in any supported layout."""

    def entry(name: str, clip_dir: Path) -> tuple[str, Path, dict[str, Path]]:
        frames_dir = clip_dir / FRAMES_DIR if (clip_dir / FRAMES_DIR).is_dir() else clip_dir
        return name, frames_dir, {k: clip_dir / k for k in MAP_KINDS}

    davis = root / "JPEGImages" / "480p"
    if davis.is_dir():
        ann = root / "Annotations" / "480p"
        return [(d.name, d, {"masks": ann / d.name}) for d in _subdirs(davis)]
    if _is_clip_dir(root):
        return [entry(root.name, root)]
    out = []
    for d in _subdirs(root):
        inner = _subdirs(d) if not _is_clip_dir(d) else []
        if inner and any(_is_clip_dir(c) for c in inner):
            out.extend(entry(f"{d.name}/{c.name}", c) for c in inner)
        else:
            out.append(entry(d.name, d))
    return out


def _is_clip_dir(folder: Path) -> bool:
    """A folder holding one clip: a ``frames/`` folder or images directly in it."""
    return (folder / FRAMES_DIR).is_dir() or _has_images(folder)


def clip_ids(root: str | os.PathLike) -> list[str]:
    """The clip ids under ``root`` (any layout above) without reading a frame; empty when ``root`` does not exist."""
    root = Path(root)
    return [name for name, _, _ in _clip_folders(root)] if root.is_dir() else []


def discover_clips(
    root: str | os.PathLike,
    sequences: Sequence[str] = (),
    max_frames: int = 0,
    check_all: bool = True,
) -> list[Clip]:
    """All clips under ``root`` (sorted by name, numerically), or the named ``sequences`` in the order given.

    ``max_frames`` > 0 keeps the first frames of each clip. Raises InputError for a missing or empty folder, a clip
    without frames, unreadable frames, frames of different sizes, or map files that do not match the frames.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"clip folder not found: {root}")
    found = _clip_folders(root)
    if not found:
        raise InputError(f"no clips in {root} (expected <clip>/frames/*.jpg or <clip>/*.jpg)")
    if sequences:
        names = {name for name, _, _ in found}
        missing = [s for s in sequences if s not in names]
        if missing:
            raise InputError(f"sequence(s) not found in {root}: {', '.join(missing)}")
        order = {s: i for i, s in enumerate(sequences)}
        found = sorted((f for f in found if f[0] in order), key=lambda f: order[f[0]])
    clips = []
    for name, frames_dir, map_dirs in found:
        clip = load_clip(name, frames_dir, map_dirs, check_all=False).head(max_frames)
        if check_all:
            check_sizes(clip)
        clips.append(clip)
    return clips


def with_maps(clip: Clip, kind: str, folder: str | os.PathLike, ignore_extra: bool = False) -> Clip:
    """``clip`` with the ``kind`` maps of ``folder`` (one file per frame, same stems, same size) added or replaced.

    ``ignore_extra``: maps of frames the clip does not hold (a clip cut by ``max_frames``) are skipped."""
    folder = Path(folder)
    files = sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if folder.is_dir()
        else (),
        key=lambda p: natural_key(p.name),
    )
    if not files:
        raise InputError(f"clip {clip.name!r}: no {kind} files in {folder}")
    if ignore_extra:
        stems = set(clip.stems)
        files = [p for p in files if p.stem in stems]
    out = dataclasses.replace(clip, maps={**clip.maps, kind: _match_maps(kind, clip.frames, files, folder)})
    for path in out.maps[kind]:
        if image_size(path) != (clip.height, clip.width):
            raise InputError(f"clip {clip.name!r}: {path} does not have the frame size {clip.width}x{clip.height}")
    return out


def check_sizes(clip: Clip) -> None:
    """Read every frame and map header: InputError when one is unreadable or differs in size from the first frame."""
    for path in clip.frames[1:] + tuple(p for paths in clip.maps.values() for p in paths):
        size = image_size(path)
        if size != (clip.height, clip.width):
            raise InputError(
                f"clip {clip.name!r}: {path} is {size[1]}x{size[0]} but {clip.frames[0].name} is "
                f"{clip.width}x{clip.height}; all frames and maps of a clip must have the same size"
            )


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def clip_sha256(clip: Clip) -> str:
    """One digest over a clip's source files: names and bytes of frames and maps, in order."""
    digest = hashlib.sha256()
    for kind, paths in (("frames", clip.frames), *sorted(clip.maps.items())):
        for path in paths:
            digest.update(f"{kind}/{path.name}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()
