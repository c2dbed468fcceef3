"""Shared by the training tests: a tiny packed clip set made from the embedded demo clips, and settings."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "datasets" / "demo" / "davis"


def make_tiny_lmdb(
    tmp: Path, clips: tuple[str, ...] = ("dog", "blackswan"), frames: int = 8, size: tuple[int, int] = (128, 224)
) -> Path:
    """Pack ``frames`` frames (and masks) of real demo clips, downscaled to ``size`` (H, W), into tmp/train.lmdb."""
    from svcnet.data.frames import list_frames, read_mask, read_rgb, write_png
    from svcnet.data.lmdb_pack import pack_clips

    src = tmp / "clips"
    for clip in clips:
        for kind in ("frames", "masks"):
            (src / clip / kind).mkdir(parents=True, exist_ok=True)
        for path in list_frames(DEMO / clip / "frames")[:frames]:
            rgb = cv2.resize(read_rgb(path), (size[1], size[0]), interpolation=cv2.INTER_AREA)
            write_png(src / clip / "frames" / f"{path.stem}.png", rgb)
            mask = read_mask(DEMO / clip / "masks" / f"{path.stem}.png")
            write_png(
                src / clip / "masks" / f"{path.stem}.png",
                cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST),
            )
    out = tmp / "train.lmdb"
    pack_clips(src, out, ("masks",), 1)
    return out


def params_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
