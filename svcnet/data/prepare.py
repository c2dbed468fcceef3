"""Materialise a configured clip set at the working size: ``out/<clip>/frames|masks|saliency/<frame>`` + manifest.json.

Sources: the embedded demo clips (``datasets/demo/davis``), a local folder (DAVIS or any clip layout, see
:mod:`svcnet.data.clips`), or DAVIS 2017 TrainVal 480p fetched through the :mod:`svcnet.sources` registry.
The output folder is written atomically (temporary sibling, renamed when complete), so an interrupted run leaves
nothing behind and a re-run starts clean.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from svcnet.config import REPO_ROOT, ClipSetConfig
from svcnet.data.atomic import atomic_path
from svcnet.data.clips import Clip, clip_sha256, discover_clips
from svcnet.data.frames import encode_png, read_mask, read_rgb
from svcnet.errors import InputError

log = logging.getLogger(__name__)

DEMO_ROOT = REPO_ROOT / "datasets" / "demo" / "davis"
DAVIS2017_SOURCE = "davis2017_trainval_480p"
INTERPOLATION = {"area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}
COPY_SUFFIXES = (".jpg", ".jpeg")
MANIFEST = "manifest.json"


def fetch_davis2017(root: str | os.PathLike = ".") -> Path:
    """DAVIS 2017 TrainVal 480p through the source registry (``svcnet fetch davis2017_trainval_480p``: verified
    download, safe unpack, reused when present) under ``root``; returns its ``DAVIS`` folder."""
    from svcnet.sources import fetch_source

    result = fetch_source(DAVIS2017_SOURCE, root)
    if result.status == "manual":
        raise InputError(result.detail)
    base = Path(result.path)
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


def source_clips(cs: ClipSetConfig, fetch_root: str | os.PathLike = ".") -> tuple[Path, list[Clip]]:
    """The source folder and the selected clips (sequences, max_frames) of a clip set."""
    if cs.source == "demo":
        root = DEMO_ROOT
    elif cs.source in ("davis2016_local", "folder"):
        if not cs.root:
            raise InputError(f"data source {cs.source!r} needs `root:` (the folder of clips)")
        root = Path(cs.root)
    elif cs.source == "davis2017":
        root = Path(cs.root) if cs.root else fetch_davis2017(fetch_root)
    else:
        raise InputError(f"unknown data source {cs.source!r}")
    sequences: Sequence[str] = cs.sequences
    if cs.source == "davis2017" and not sequences:
        sequences = davis_split(root, cs.split or "val")
    return root, discover_clips(root, sequences=sequences, max_frames=cs.max_frames)


def _display_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (manifests do not depend on the checkout's location)."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _resize(img: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    h, w = size
    return img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h), interpolation=interpolation)


def write_clip(clip: Clip, dest: Path, size: tuple[int, int], interpolation: str = "area") -> dict:
    """Write one clip at ``size`` (H, W) into ``dest``; returns its manifest entry.

    Frames already at ``size`` in JPEG are copied byte for byte; others are resized and stored as PNG (lossless).
    Masks are resized with nearest neighbour and binarised (any nonzero value → 255); saliency maps are resized.
    """
    interp = INTERPOLATION[interpolation]
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

    ``fetch_root``: the folder the registry's download paths are relative to (DAVIS 2017 without ``root:``)."""
    from tqdm import tqdm

    root, clips = source_clips(cs, fetch_root)
    manifest = {
        "source": cs.source,
        "root": _display_path(root),
        "split": cs.split,
        "max_frames": cs.max_frames,
        "height": size[0],
        "width": size[1],
        "interpolation": interpolation,
        "clips": {},
    }
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for clip in tqdm(clips, desc="prepare", unit="clip", disable=None):
            manifest["clips"][clip.name] = write_clip(clip, tmp / clip.name, size, interpolation)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("prepared %d clips, %d frames in %s", len(clips), sum(len(c) for c in clips), out)
    return manifest
