"""Materialise a configured clip set at the working size: ``out/<clip>/frames|masks|saliency/<frame>`` + manifest.json.

Sources: the embedded demo clips (``datasets/demo/davis``), a local folder (DAVIS or any clip layout, see
:mod:`svcnet.data.clips`), DAVIS 2017 TrainVal 480p fetched through the :mod:`svcnet.sources` registry, and the
SVCNet releases: the DAVIS-Videvo train clips (JPG folder ``<video>/<frame>.jpg`` or the released lmdb, seg targets
from the fusion folder with the same relative paths, prepared as ``saliency`` maps) and the DAVIS-Videvo validation
clips (``<tag>/<video>/<frame>.jpg`` → clip ids ``<tag>/<video>``, nested output folders).
The output folder is written atomically (temporary sibling, renamed when complete), so an interrupted run leaves
nothing behind and a re-run starts clean.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from svcnet.config import REPO_ROOT, ClipSetConfig
from svcnet.data.atomic import atomic_path
from svcnet.data.clips import Clip, clip_ids, clip_sha256, discover_clips, with_maps
from svcnet.data.frames import encode_png, read_mask, read_rgb
from svcnet.errors import InputError

log = logging.getLogger(__name__)

DEMO_ROOT = REPO_ROOT / "datasets" / "demo" / "davis"
DAVIS2017_SOURCE = "davis2017_trainval_480p"
INTERPOLATION = {"area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}
COPY_SUFFIXES = (".jpg", ".jpeg")
MANIFEST = "manifest.json"


VIDEVO_TRAIN = "svcnet_davis_videvo_train"
VIDEVO_VAL = "svcnet_davis_videvo_val"
SOURCES = ("demo", "davis2016_local", "folder", "davis2017", VIDEVO_TRAIN, VIDEVO_VAL)
# where a source's data is when `root:` is not given (see svcnet.sources.resolve_registry_path)
DEFAULT_ROOTS = {
    "davis2017": "registry:davis2017_trainval_480p",
    VIDEVO_TRAIN: "registry:svcnet_davis_videvo_train_jpg",
    VIDEVO_VAL: "registry:svcnet_davis_videvo_val_jpg",
}
DEFAULT_SEG = {VIDEVO_TRAIN: "registry:svcnet_davis_videvo_train_seg_saliency"}
VAL_TAGS = ("DAVIS", "videvo")
SEG_KIND = "saliency"  # seg targets of a release are prepared as the clip's saliency maps (CPNet's seg-head target)
LMDB_FILE = "data.mdb"


def fetch_davis2017(root: str | os.PathLike = ".") -> Path:
    """DAVIS 2017 TrainVal 480p through the source registry (``svcnet fetch davis2017_trainval_480p``: verified
    download, safe unpack, reused when present) under ``root``; returns its ``DAVIS`` folder."""
    from svcnet.sources import fetch_source

    result = fetch_source(DAVIS2017_SOURCE, root)
    if result.status == "manual":
        raise InputError(result.detail)
    return _davis_base(Path(result.path))


def _davis_base(base: Path) -> Path:
    if (base / "JPEGImages" / "480p").is_dir():
        return base
    found = next((p.parent.parent for p in sorted(base.rglob("480p")) if p.parent.name == "JPEGImages"), None)
    if found is None:
        raise InputError(
            f"{base} does not contain JPEGImages/480p (not DAVIS 2017 TrainVal 480p?); unpack "
            "DAVIS-2017-trainval-480p.zip yourself and set `root:` of the clip set to its DAVIS folder"
        )
    return found


def davis_split(root: Path, split: str) -> list[str]:
    """Sequence names of a DAVIS 2017 split (ImageSets/2017/<split>.txt)."""
    listing = root / "ImageSets" / "2017" / f"{split}.txt"
    if not listing.is_file():
        raise InputError(f"DAVIS split list not found: {listing}")
    return [line.strip() for line in listing.read_text().splitlines() if line.strip()]


def source_root(cs: ClipSetConfig, fetch_root: str | os.PathLike = ".") -> Path:
    """Where a clip set's source data is (it may not exist yet): the demo clips, ``root:`` (a path or
    ``registry:<name>``), else the source's registry entry. Nothing is fetched."""
    from svcnet.sources import resolve_registry_path

    if cs.source == "demo":
        return DEMO_ROOT
    if cs.source not in SOURCES:
        raise InputError(f"unknown data source {cs.source!r}; choose one of {', '.join(SOURCES)}")
    value = cs.root or DEFAULT_ROOTS.get(cs.source)
    if not value:
        raise InputError(f"data source {cs.source!r} needs `root:` (the folder of clips)")
    return resolve_registry_path(value, fetch_root)


def seg_root(cs: ClipSetConfig, fetch_root: str | os.PathLike = ".") -> Path | None:
    """The folder of the clip set's seg targets (``seg:``, else the source's release maps), or None."""
    from svcnet.sources import resolve_registry_path

    value = cs.seg or DEFAULT_SEG.get(cs.source)
    return resolve_registry_path(value, fetch_root) if value else None


def list_name(cs: ClipSetConfig) -> str | None:
    """The name of the release clip list of a source in ``datasets/lists/`` (None for local folders)."""
    if cs.source == "davis2017":
        return f"davis2017_{cs.split or 'val'}"
    return cs.source if cs.source in (VIDEVO_TRAIN, VIDEVO_VAL) else None


def _find_dir(root: Path, test, depth: int = 2) -> Path | None:
    """``root`` or the first folder below it (at most ``depth`` levels, sorted) for which ``test`` holds."""
    if test(root):
        return root
    if depth == 0 or not root.is_dir():
        return None
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = _find_dir(sub, test, depth - 1)
        if found is not None:
            return found
    return None


def find_lmdb(root: Path) -> Path | None:
    """The lmdb folder (holding data.mdb) at or below ``root``, or None."""
    return _find_dir(root, lambda p: (p / LMDB_FILE).is_file())


def _val_base(root: Path) -> Path:
    """The folder of the validation release holding the tag folders DAVIS/ and videvo/."""
    found = _find_dir(root, lambda p: any((p / tag).is_dir() for tag in VAL_TAGS))
    if found is None:
        raise InputError(
            f"{root} does not contain the DAVIS-Videvo validation layout <tag>/<video>/<frame>.jpg with tags "
            f"{' and '.join(VAL_TAGS)}; set data.eval.root to the folder holding them"
        )
    return found


def _missing_source(cs: ClipSetConfig, root: Path, what: str = "data") -> InputError:
    from svcnet.sources import get_source, registry_ref

    value = (cs.root or DEFAULT_ROOTS.get(cs.source)) if what == "data" else (cs.seg or DEFAULT_SEG.get(cs.source))
    name = registry_ref(value)
    hint = f" To get it: {get_source(name).how_to_get()}" if name else ""
    return InputError(f"data source {cs.source!r}: {what} folder not found: {root}.{hint}")


def source_ids(cs: ClipSetConfig, root: Path) -> list[str]:
    """The clip ids of an existing source folder (all its clips; the DAVIS 2017 split list for davis2017)."""
    if cs.source == "davis2017":
        return davis_split(_davis_base(root), cs.split or "val")
    if cs.source == VIDEVO_TRAIN and find_lmdb(root) is not None:
        from svcnet.data.release_lmdb import lmdb_clip_ids

        return lmdb_clip_ids(find_lmdb(root))
    if cs.source == VIDEVO_VAL:
        return clip_ids(_val_base(root))
    return clip_ids(root)


def _selected(cs: ClipSetConfig, ids: Sequence[str], root: Path) -> list[str]:
    if not cs.sequences:
        return list(ids)
    missing = [s for s in cs.sequences if s not in set(ids)]
    if missing:
        raise InputError(f"sequence(s) not found in {root}: {', '.join(missing)}")
    return list(cs.sequences)


def _add_seg(clips: list[Clip], seg: Path) -> list[Clip]:
    out = []
    for clip in clips:
        folder = seg / clip.name
        if not folder.is_dir():
            raise InputError(f"clip {clip.name!r}: no seg/saliency folder {folder} (expected one map per frame)")
        out.append(with_maps(clip, SEG_KIND, folder, ignore_extra=True))
    return out


@contextmanager
def opened_source(cs: ClipSetConfig, fetch_root: str | os.PathLike = ".", scratch: str | os.PathLike | None = None):
    """(source folder, selected clips) of a clip set, as a context: a released lmdb's clips are extracted into a
    temporary folder under ``scratch`` (default: the system's) that exists while the context is open."""
    root = source_root(cs, fetch_root)
    lmdb_dir = find_lmdb(root) if cs.source == VIDEVO_TRAIN and root.exists() else None
    if lmdb_dir is None:
        yield source_clips(cs, fetch_root)
        return
    from svcnet.data.release_lmdb import extract_clips, lmdb_clip_ids

    videos = _selected(cs, lmdb_clip_ids(lmdb_dir), lmdb_dir)
    if scratch is not None:
        Path(scratch).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".lmdb-extract-", dir=scratch) as tmp:
        extract_clips(lmdb_dir, videos, tmp, cs.max_frames)
        clips = discover_clips(tmp, sequences=videos)
        seg = seg_root(cs, fetch_root)
        if seg is not None:
            if not seg.is_dir():
                raise _missing_source(cs, seg, "seg/saliency")
            clips = _add_seg(clips, seg)
        yield lmdb_dir, clips


def source_clips(cs: ClipSetConfig, fetch_root: str | os.PathLike = ".") -> tuple[Path, list[Clip]]:
    """The source folder and the selected clips (sequences, max_frames) of a clip set (see :func:`opened_source`
    for the lmdb variant)."""
    fetch = cs.source == "davis2017" and not cs.root  # the public DAVIS 2017 zip is downloaded when absent
    root = fetch_davis2017(fetch_root) if fetch else source_root(cs, fetch_root)
    if not root.exists():
        raise _missing_source(cs, root)
    sequences: Sequence[str] = cs.sequences
    if cs.source == "davis2017":
        root = _davis_base(root)
        sequences = sequences or davis_split(root, cs.split or "val")
    elif cs.source == VIDEVO_VAL:
        root = _val_base(root)
    clips = discover_clips(root, sequences=sequences, max_frames=cs.max_frames)
    seg = seg_root(cs, fetch_root)
    if seg is not None:
        if not seg.is_dir():
            raise _missing_source(cs, seg, "seg/saliency")
        clips = _add_seg(clips, seg)
    return root, clips


def _display_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (manifests do not depend on the checkout's location)."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _resize(img: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    h, w = size
    return img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h), interpolation=interpolation)


def write_clip(clip: Clip, dest: Path, size: tuple[int, int] | None, interpolation: str = "area") -> dict:
    """Write one clip at ``size`` (H, W; None = its original size) into ``dest``; returns its manifest entry.

    Frames already at ``size`` in JPEG are copied byte for byte; others are resized and stored as PNG (lossless).
    Masks are resized with nearest neighbour and binarised (any nonzero value → 255); saliency maps are resized.
    """
    interp = INTERPOLATION[interpolation]
    size = tuple(size) if size else (clip.height, clip.width)
    (dest / "frames").mkdir(parents=True)
    for path in clip.frames:
        if (clip.height, clip.width) == size and path.suffix.lower() in COPY_SUFFIXES:
            shutil.copyfile(path, dest / "frames" / path.name)
        else:
            (dest / "frames" / f"{path.stem}.png").write_bytes(encode_png(_resize(read_rgb(path), size, interp)))
    for kind, paths in clip.maps.items():
        (dest / kind).mkdir()
        for path in paths:
            if kind == "masks":
                img = np.where(_resize(read_mask(path), size, cv2.INTER_NEAREST) > 0, 255, 0).astype(np.uint8)
            else:
                img = _resize(read_mask(path), size, interp)
            (dest / kind / f"{path.stem}.png").write_bytes(encode_png(img))
    return {
        "frames": len(clip),
        **{kind: len(paths) for kind, paths in clip.maps.items()},
        "source_size": [clip.height, clip.width],
        "source_sha256": clip_sha256(clip),
    }


def prepare_clipset(
    cs: ClipSetConfig,
    out: str | os.PathLike,
    size: tuple[int, int] = (256, 448),
    interpolation: str = "area",
    fetch_root: str | os.PathLike = ".",
) -> dict:
    """Materialise clip set ``cs`` at ``size`` (H, W) into the folder ``out`` atomically; returns the manifest.

    ``fetch_root``: the folder the registry's download paths and ``registry:<name>`` values are relative to."""
    with opened_source(cs, fetch_root, scratch=Path(out).parent) as (root, clips):
        seg = seg_root(cs, fetch_root)
        return _write_clipset(cs, root, seg, clips, Path(out), size, interpolation)


def _write_clipset(
    cs: ClipSetConfig,
    root: Path,
    seg: Path | None,
    clips: list[Clip],
    out: Path,
    size: tuple[int, int],
    interpolation: str,
) -> dict:
    from tqdm import tqdm

    manifest = {
        "source": cs.source,
        "root": _display_path(root),
        "split": cs.split,
        "seg": _display_path(seg) if seg else None,
        "max_frames": cs.max_frames,
        "height": size[0],
        "width": size[1],
        "interpolation": interpolation,
        "keep_size": cs.keep_size,  # frames at their original size (data.<split>.keep_size), not height x width
        "clips": {},
    }
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for clip in tqdm(clips, desc="prepare", unit="clip", disable=None):
            target = None if cs.keep_size else size
            manifest["clips"][clip.name] = write_clip(clip, tmp / clip.name, target, interpolation)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("prepared %d clips, %d frames in %s", len(clips), sum(len(c) for c in clips), out)
    return manifest
