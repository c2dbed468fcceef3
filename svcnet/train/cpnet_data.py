"""CPNet training set: frames of a packed clip set (or a folder of images) as independent images (spec §3.1–3.3).

Sample ``n`` (a global sample number, :mod:`svcnet.train.sampling`) → an epoch-shuffled image, an optional random
region, INTER_CUBIC resize to the stage size, L/ab in the official convention, a random scribble drawn by
``scribble_fn`` and the segmentation target (saliency map, else object mask; ``has_seg`` = 0 when neither exists).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from svcnet.data.lmdb_dataset import LmdbClips
from svcnet.errors import InputError
from svcnet.train.samples import cut_resize, random_region, rgb_to_l_ab, seg_target
from svcnet.train.sampling import EpochShuffle, sample_rng

ScribbleFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]  # uint8 RGB image, rng -> uint8 RGB scribble
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SEG_KINDS = {"auto": ("saliency", "masks"), "saliency": ("saliency",), "masks": ("masks",), "none": ()}


def scribble_ab(scribble_rgb: np.ndarray) -> np.ndarray:
    """A uint8 RGB scribble image (black = none) → 2×H×W ab/255 (background 128/255, the training 'no scribble')."""
    return rgb_to_l_ab(scribble_rgb)[1]


class CPNetImages(Dataset):
    """Map-style over global sample numbers; ``len()`` is the number of distinct images (one epoch)."""

    def __init__(
        self,
        source: str | os.PathLike,
        size: Sequence[int],
        scribble_fn: ScribbleFn,
        seed: int = 0,
        crop: Sequence[int] = (),
        seg: str = "auto",
        clips: Sequence[str] | None = None,
        saliency_root: str | os.PathLike | None = None,
    ) -> None:
        if seg not in SEG_KINDS:
            raise InputError(f"seg_target must be one of {', '.join(SEG_KINDS)}, not {seg!r}")
        self.size, self.crop, self.seed, self.scribble_fn = tuple(size), tuple(crop), seed, scribble_fn
        self.source = Path(source)
        self.reader: LmdbClips | None = None
        self.items: list[Any]
        self.seg_kind: dict[str, str | None] = {}
        if (self.source / "data.mdb").is_file():
            self.reader = LmdbClips(self.source)
            names = list(clips) if clips else list(self.reader.clips)
            for name in names:
                if name not in self.reader.clips:
                    raise InputError(f"{self.source}: no clip {name!r}")
                have = self.reader.clips[name]["maps"]
                self.seg_kind[name] = next((k for k in SEG_KINDS[seg] if k in have), None)
            self.items = [(c, i) for c in names for i in range(self.reader.num_frames(c))]
        elif self.source.is_dir():
            self.items = sorted(p for p in self.source.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
            self.saliency_root = Path(saliency_root) if saliency_root and seg != "none" else None
            if self.saliency_root is not None and not self.saliency_root.is_dir():
                raise InputError(f"saliency folder not found: {self.saliency_root} (the seg targets of {self.source})")
        else:
            raise InputError(
                f"training images not found: {self.source} (give a packed .lmdb folder or an image folder)"
            )
        if not self.items:
            raise InputError(f"{self.source}: no training images")
        self.shuffle = EpochShuffle(len(self.items), seed)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def seg_coverage(self) -> float:
        """Fraction of images that have a segmentation target."""
        if self.reader is None:
            return 1.0 if getattr(self, "saliency_root", None) else 0.0
        return sum(self.seg_kind[c] is not None for c, _ in self.items) / len(self.items)

    def _saliency_file(self, image: Path) -> Path:
        """The saliency map of an image: the same relative path under the saliency folder (or with .png)."""
        cand = self.saliency_root / image.relative_to(self.source)
        for path in (cand, cand.with_suffix(".png")):
            if path.is_file():
                return path
        raise InputError(f"no saliency map for {image}: expected {cand} (same relative path as the image)")

    def _load(self, item: Any) -> tuple[np.ndarray, np.ndarray | None]:
        if self.reader is not None:
            clip, idx = item
            kind = self.seg_kind[clip]
            return self.reader.frame(clip, idx), (self.reader.map(kind, clip, idx) if kind else None)
        from svcnet.data.frames import read_mask, read_rgb

        seg = None
        if self.saliency_root is not None:
            seg = read_mask(self._saliency_file(item))
        return read_rgb(item), seg

    def __getitem__(self, n: int) -> dict[str, torch.Tensor]:
        rng = sample_rng(self.seed, n)
        rgb_full, seg_full = self._load(self.items[self.shuffle.item(n)])
        region = random_region(rgb_full.shape, self.crop, rng)
        rgb = cut_resize(rgb_full, region, self.size)
        l, ab = rgb_to_l_ab(rgb)
        scribble = scribble_ab(self.scribble_fn(rgb, rng))
        if seg_full is not None:
            seg, has_seg = seg_target(seg_full, region, self.size), 1.0
        else:
            seg, has_seg = np.zeros_like(l), 0.0
        return {
            "l": torch.from_numpy(l),
            "ab": torch.from_numpy(ab),
            "scribble": torch.from_numpy(scribble),
            "seg": torch.from_numpy(seg),
            "has_seg": torch.tensor(has_seg),
        }
