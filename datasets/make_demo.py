"""Regenerate the embedded demo clips (datasets/demo/davis) from a DAVIS folder.

Usage: python datasets/make_demo.py DAVIS_ROOT [--out datasets/demo/davis] [--seq car-shadow --seq blackswan ...]

DAVIS_ROOT holds one folder per sequence, either ``<seq>/frames/*.jpg`` + ``<seq>/masks/*.png`` or the official
``JPEGImages/480p/<seq>`` + ``Annotations/480p/<seq>`` layout. Frames are resized to 448×256 with cv2.INTER_AREA and
stored as JPEG (quality 95); masks are resized with cv2.INTER_NEAREST and binarised to 0/255 PNG. Frames are taken in
numeric order and renamed ``00000.jpg``, ``00001.jpg``, ... (masks ``00000.png`` ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from svcnet.data.atomic import atomic_path
from svcnet.data.frames import list_frames, read_mask, read_rgb

DEFAULT_SEQS = ("car-shadow", "blackswan", "dog")
WIDTH, HEIGHT = 448, 256
JPEG_QUALITY = 95


def sequence_dirs(root: Path, seq: str) -> tuple[Path, Path]:
    """Frame and mask folders of one sequence in either supported layout."""
    if (root / seq / "frames").is_dir():
        return root / seq / "frames", root / seq / "masks"
    return root / "JPEGImages" / "480p" / seq, root / "Annotations" / "480p" / seq


def make_sequence(root: Path, seq: str, out: Path) -> int:
    """Write one downscaled sequence to ``out/seq`` atomically; return the number of frames."""
    frames_dir, masks_dir = sequence_dirs(root, seq)
    frames = list_frames(frames_dir)
    masks = list_frames(masks_dir, suffixes=(".png",))
    if [p.stem for p in frames] != [p.stem for p in masks]:
        raise SystemExit(f"{seq}: frame and mask names differ")
    with atomic_path(out / seq) as tmp:
        (tmp / "frames").mkdir(parents=True)
        (tmp / "masks").mkdir()
        for i, (fp, mp) in enumerate(zip(frames, masks)):
            rgb = cv2.resize(read_rgb(fp), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
            ok, buf = cv2.imencode(
                ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            assert ok
            (tmp / "frames" / f"{i:05d}.jpg").write_bytes(buf.tobytes())
            mask = cv2.resize(read_mask(mp), (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
            mask = np.where(mask > 127, 255, 0).astype(np.uint8)
            ok, buf = cv2.imencode(".png", mask, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            assert ok
            (tmp / "masks" / f"{i:05d}.png").write_bytes(buf.tobytes())
    return len(frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("davis_root", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo" / "davis")
    parser.add_argument(
        "--seq", action="append", help="sequence name (repeatable); default: {}".format(", ".join(DEFAULT_SEQS))
    )
    args = parser.parse_args(argv)
    for seq in args.seq or DEFAULT_SEQS:
        n = make_sequence(args.davis_root, seq, args.out)
        print(f"{seq}: {n} frames -> {args.out / seq}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
