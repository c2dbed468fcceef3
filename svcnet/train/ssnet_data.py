"""SSNet training set (docs/official.md §3.5): one random window of ``window`` consecutive frames per clip and sample.

Per frame: L8/255, ab/255, a scribble (one Bernoulli per window decides on/off inside ``scribble_fn``; points are
independent per frame, no flow carry — as official), the CorrNet lightness (sk-Lab L* − 50) and, when asked, the ab
target at twice the size for the SR loss. With ``flow="dis"`` the OpenCV DIS flows between every pair of frames at
most 3 apart are computed here, in the DataLoader workers (``flows[a, b]``: the flow used to warp frame ``a`` onto
frame ``b``; see :func:`pair_flow`). The WARN warm-up's windows (``warn_only``) carry L, ab and the 6 flows onto
the centre frame only, a fraction of the data work (docs/measurements.md §6).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from svcnet.data.lmdb_dataset import LmdbClips
from svcnet.errors import InputError
from svcnet.ops.window import WINDOW
from svcnet.train.cpnet_data import scribble_ab
from svcnet.train.samples import cut_resize, random_region, rgb_to_l_ab
from svcnet.train.sampling import EpochShuffle, sample_rng

WindowScribbleFn = Callable[[Sequence[np.ndarray], np.random.Generator], list[np.ndarray]]
FLOW_DIRECTIONS = ("official", "aligned")  # as svcnet.infer.flow: PWC-Net official, DIS aligned
MAX_OFFSET = 3


def pair_flow(frame_a: np.ndarray, frame_b: np.ndarray, direction: str, preset: str = "medium") -> np.ndarray:
    """2×H×W flow used to backward-warp frame ``a`` towards frame ``b``.

    ``official``: estimated from ``a`` to ``b`` (``a(p) ≈ b(p + flow)``), as the official code feeds PWC-Net
    (neighbour first, centre second; docs/official.md §1.3 step 2). ``aligned``: estimated from ``b`` to ``a``
    (``b(p) ≈ a(p + flow)``), so that warping ``a`` by it really aligns ``a`` with ``b``.
    """
    from svcnet.ops.flow_dis import dis_flow

    if direction not in FLOW_DIRECTIONS:
        raise ValueError(f"flow direction must be one of {FLOW_DIRECTIONS}, not {direction!r}")
    first, second = (frame_a, frame_b) if direction == "official" else (frame_b, frame_a)
    return dis_flow(first, second, preset).transpose(2, 0, 1)


def window_flows(
    grays: Sequence[np.ndarray], direction: str, preset: str = "medium", to: int | None = None
) -> np.ndarray:
    """T×T×2×H×W float32: ``[a, b]`` = :func:`pair_flow` for 0 < |a − b| ≤ 3 (only ``b == to`` when ``to`` is
    given), zero elsewhere."""
    t = len(grays)
    h, w = grays[0].shape[:2]
    out = np.zeros((t, t, 2, h, w), np.float32)
    for a in range(t):
        for b in range(t) if to is None else (to,):
            if a != b and abs(a - b) <= MAX_OFFSET:
                out[a, b] = pair_flow(grays[a], grays[b], direction, preset)
    return out


def corr_lightness(rgb: np.ndarray) -> np.ndarray:
    """CorrNet's input lightness: skimage rgb2lab L* − 50 of a uint8 RGB frame (1×H×W float32)."""
    from svcnet.ops.lab import transform_l

    return transform_l(rgb, None)[0].numpy()


class SSNetWindows(Dataset):
    """Map-style over global sample numbers; ``len()`` is the number of clips (one epoch = one window per clip).

    ``warn_only``: just what the WARN warm-up reads — L, ab and the flows of the 6 neighbours onto the centre frame
    (no scribbles, CorrNet lightness or SR target; a fifth of the DIS work). The windows are the same either way.
    """

    def __init__(
        self,
        lmdb: str | os.PathLike,
        size: Sequence[int],
        scribble_fn: WindowScribbleFn | None,
        seed: int = 0,
        window: int = WINDOW,
        crop: Sequence[int] = (),
        with_sr: bool = False,
        flow: str = "dis",
        flow_direction: str = "official",
        clips: Sequence[str] | None = None,
        dis_preset: str = "medium",
        warn_only: bool = False,
    ) -> None:
        if scribble_fn is None and not warn_only:
            raise ValueError("SSNetWindows needs a scribble_fn (only the WARN warm-up's windows have no scribbles)")
        self.reader = LmdbClips(lmdb)
        names = list(clips) if clips else list(self.reader.clips)
        self.clips = [c for c in names if self.reader.num_frames(c) >= window]
        if not self.clips:
            raise InputError(f"{lmdb}: no clip has {window} frames or more (SSNet trains on {window}-frame windows)")
        self.size, self.crop, self.seed, self.window = tuple(size), tuple(crop), seed, window
        self.scribble_fn, self.with_sr, self.flow = scribble_fn, with_sr, flow
        self.flow_direction, self.dis_preset, self.warn_only = flow_direction, dis_preset, warn_only
        self.shuffle = EpochShuffle(len(self.clips), seed)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, n: int) -> dict[str, torch.Tensor]:
        rng = sample_rng(self.seed, n)
        clip = self.clips[self.shuffle.item(n)]
        start = int(rng.integers(0, self.reader.num_frames(clip) - self.window + 1))
        frames = [self.reader.frame(clip, start + i) for i in range(self.window)]
        region = random_region(frames[0].shape, self.crop, rng)
        rgbs = [cut_resize(f, region, self.size) for f in frames]
        ls, abs_ = zip(*(rgb_to_l_ab(r) for r in rgbs))
        item = {
            "l": torch.from_numpy(np.stack(ls)),
            "ab": torch.from_numpy(np.stack(abs_)),
            "start": torch.tensor(start),
        }
        if not self.warn_only:
            scribbles = self.scribble_fn(rgbs, rng)
            item["scribble"] = torch.from_numpy(np.stack([scribble_ab(s) for s in scribbles]))
            item["xl"] = torch.from_numpy(np.stack([corr_lightness(r) for r in rgbs]))
        if self.with_sr:
            big = (2 * self.size[0], 2 * self.size[1])
            item["ab_sr"] = torch.from_numpy(np.stack([rgb_to_l_ab(cut_resize(f, region, big))[1] for f in frames]))
        if self.flow == "dis":
            l8 = [(l[0] * 255.0 + 0.5).astype(np.uint8) for l in ls]
            to = self.window // 2 if self.warn_only else None
            item["flows"] = torch.from_numpy(window_flows(l8, self.flow_direction, self.dis_preset, to=to))
        return item
