"""Pairs of predicted and ground-truth videos on disk, frames matched by file stem.

A root folder holds one sub-folder per video; a video's frames lie directly in it (``<video>/<frame>.png|jpg``) or in
its ``frames/`` sub-folder (``<video>/frames/<frame>``, the layout of ``svcnet colorize`` and ``svcnet prepare``).
A root may group videos under one level of test-set tags (``<tag>/<video>/...``, the DAVIS-Videvo validation
layout); such a video is named by its clip id ``<tag>/<video>``. Sub-folders without frames (and files such as
``manifest.json``) are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svcnet.data.frames import IMAGE_SUFFIXES, list_frames, read_rgb
from svcnet.errors import InputError


def frame_dir(video: Path) -> Path | None:
    """The folder holding a video's frames (``video/frames`` or ``video``), None when it has none."""
    for cand in (video / "frames", video):
        if cand.is_dir() and any(
            p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".") for p in cand.iterdir()
        ):
            return cand
    return None


def list_videos(root: str | os.PathLike, what: str = "videos") -> dict[str, Path]:
    """Video name → frame folder for every video under ``root`` (sorted by name)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{what} folder not found: {root}")
    videos = {}
    for sub in _subfolders(root):
        folder = frame_dir(sub)
        if folder is not None:
            videos[sub.name] = folder
            continue
        for video in _subfolders(sub):  # a test-set tag: <tag>/<video>/
            folder = frame_dir(video)
            if folder is not None:
                videos[f"{sub.name}/{video.name}"] = folder
    if not videos:
        raise InputError(
            f"no videos in {root}: expected <video>/<frame>.png|jpg or <video>/frames/<frame> folders "
            "(or <tag>/<video>/...)"
        )
    return dict(sorted(videos.items()))


def _subfolders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass(frozen=True)
class VideoPair:
    """One video to score: frame files of the prediction and the ground truth, in the ground truth's order."""

    name: str
    pred: tuple[Path, ...]
    gt: tuple[Path, ...]

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """Both videos as uint8 T×H×W×3 RGB arrays; InputError naming the file when sizes differ."""
        preds, gts = [], []
        for p, g in zip(self.pred, self.gt):
            a, b = read_rgb(p), read_rgb(g)
            if a.shape != b.shape:
                raise InputError(
                    f"size mismatch: {p} is {a.shape[1]}x{a.shape[0]} but its ground truth {g} is "
                    f"{b.shape[1]}x{b.shape[0]} (W x H); evaluate predictions at the ground truth's size"
                )
            if gts and b.shape != gts[0].shape:
                raise InputError(
                    f"{g} is {b.shape[1]}x{b.shape[0]} but {self.gt[0]} is "
                    f"{gts[0].shape[1]}x{gts[0].shape[0]}: all frames of a video must have one size"
                )
            preds.append(a)
            gts.append(b)
        return np.stack(preds), np.stack(gts)


def _by_stem(files: list[Path]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in files:
        if f.stem in out:
            raise InputError(f"two frames share the name {f.stem}: {out[f.stem]} and {f}")
        out[f.stem] = f
    return out


def match_videos(pred_root: str | os.PathLike, gt_root: str | os.PathLike) -> list[VideoPair]:
    """Pair every ground-truth video with its prediction; missing or extra videos/frames raise InputError."""
    gt_videos = list_videos(gt_root, "ground-truth")
    pred_videos = list_videos(pred_root, "prediction")
    missing = sorted(set(gt_videos) - set(pred_videos))
    if missing:
        raise InputError(
            f"no prediction for video(s) {', '.join(missing)}: expected "
            f"{Path(pred_root) / missing[0]}/frames/<frame>.png"
        )
    extra = sorted(set(pred_videos) - set(gt_videos))
    if extra:
        raise InputError(f"prediction video(s) without ground truth: {', '.join(str(pred_videos[v]) for v in extra)}")
    pairs = []
    for name, gt_dir in gt_videos.items():
        gt = list_frames(gt_dir)
        pred = _by_stem(list_frames(pred_videos[name]))
        gt_stems = _by_stem(gt)
        absent = [s for s in gt_stems if s not in pred]
        if absent:
            raise InputError(
                f"missing predicted frame {pred_videos[name] / absent[0]}.png (ground truth "
                f"{gt_stems[absent[0]]}){f' and {len(absent) - 1} more' if len(absent) > 1 else ''}"
            )
        surplus = [pred[s] for s in pred if s not in gt_stems]
        if surplus:
            raise InputError(
                f"predicted frame without ground truth: {surplus[0]}"
                f"{f' and {len(surplus) - 1} more' if len(surplus) > 1 else ''}"
            )
        pairs.append(VideoPair(name, tuple(pred[g.stem] for g in gt), tuple(gt)))
    return pairs
