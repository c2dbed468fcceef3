"""Read a packed clip set (see :mod:`svcnet.data.lmdb_pack`): a random-access reader and a torch Dataset of
fixed-length frame windows (7 frames for SSNet training).

Safe with DataLoader workers: the lmdb environment is opened lazily, once per process (``readonly=True, lock=False,
readahead=False``), and is never pickled into a worker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from svcnet.data.frames import decode_png
from svcnet.data.lmdb_pack import FORMAT, MANIFEST, record_key
from svcnet.errors import InputError
from svcnet.ops.window import WINDOW


def window_starts(n_frames: int, window: int, stride: int = 1) -> list[int]:
    """First-frame indices of every ``window``-frame window of a clip of ``n_frames`` frames, ``stride`` apart."""
    if window < 1 or stride < 1:
        raise ValueError("window and stride must be >= 1")
    return list(range(0, n_frames - window + 1, stride))


def random_window_start(n_frames: int, window: int, generator: torch.Generator | None = None) -> int:
    """A uniformly random first-frame index of a ``window``-frame window (every start 0..n-window possible)."""
    if n_frames < window:
        raise ValueError(f"a clip of {n_frames} frames has no {window}-frame window")
    return int(torch.randint(0, n_frames - window + 1, (1,), generator=generator))


# One read-only environment per (process, lmdb folder), shared by every reader in that process: LMDB forbids opening
# the same environment twice in a process, and an environment must not be used across fork().
_ENVS: dict[str, tuple[int, Any, dict[str | None, Any]]] = {}


def open_env(path: str | os.PathLike, kinds: Sequence[str] = ()) -> tuple[Any, dict[str | None, Any]]:
    """This process's read-only environment of ``path`` and its databases (None = frames, kind = named database)."""
    key = os.path.realpath(path)
    entry = _ENVS.get(key)
    if entry is not None and entry[0] == os.getpid() and all(k in entry[2] for k in kinds):
        return entry[1], entry[2]
    if entry is not None:
        # Inherited through fork() (or lacking a database): a read-only, lock-free environment only needs its mapping
        # released in this process (the parent's copy is unaffected) before this process opens its own.
        entry[1].close()
    import lmdb

    env = lmdb.open(
        key, readonly=True, lock=False, readahead=False, meminit=False, max_dbs=max(8, len(kinds) + 1), subdir=True
    )
    dbs = {None: None, **{k: env.open_db(k.encode(), create=False) for k in kinds}}
    _ENVS[key] = (os.getpid(), env, dbs)
    return env, dbs


def close_env(path: str | os.PathLike) -> None:
    """Close this process's environment of ``path`` if open."""
    entry = _ENVS.pop(os.path.realpath(path), None)
    if entry is not None and entry[0] == os.getpid():
        entry[1].close()


class LmdbClips:
    """Random access to the frames and maps of a packed clip set, by clip name and frame index."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file() or not (self.path / "data.mdb").is_file():
            raise InputError(f"not a packed clip set (no data.mdb / {MANIFEST}): {self.path}; run `svcnet pack` first")
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if self.manifest.get("format") != FORMAT:
            raise InputError(f"{manifest_path}: unsupported format {self.manifest.get('format')!r} (expected {FORMAT})")
        self.clips: dict[str, dict[str, Any]] = self.manifest["clips"]
        self.kinds: tuple[str, ...] = tuple(self.manifest["maps"])

    def close(self) -> None:
        """Close this process's environment of this clip set (readers reopen it on their next read)."""
        close_env(self.path)

    def _get(self, kind: str | None, clip: str, index: int) -> bytes:
        info = self.clips.get(clip)
        if info is None:
            raise InputError(f"{self.path}: no clip {clip!r}")
        if kind is not None and kind not in info["maps"]:
            raise InputError(f"{self.path}: clip {clip!r} has no {kind}")
        key = record_key(clip, info["frames"][index])
        env, dbs = open_env(self.path, self.kinds)
        with env.begin(db=dbs[kind], buffers=False) as txn:
            value = txn.get(key)
        if value is None:
            raise InputError(f"{self.path}: record {key.decode()} ({kind or 'frames'}) missing; re-run `svcnet pack`")
        return value

    def num_frames(self, clip: str) -> int:
        return len(self.clips[clip]["frames"])

    def frame(self, clip: str, index: int) -> np.ndarray:
        """Frame ``index`` (numeric order) of ``clip`` as uint8 RGB H×W×3."""
        return decode_png(self._get(None, clip, index))

    def map(self, kind: str, clip: str, index: int) -> np.ndarray:
        """The ``kind`` map (``masks``, ``saliency``) of frame ``index`` as uint8 H×W."""
        return decode_png(self._get(kind, clip, index), gray=True)


class ClipWindowDataset(Dataset):
    """Windows of ``window`` consecutive frames from a packed clip set.

    ``sampling="all"``: every window (``stride`` apart) of every clip, deterministic. ``sampling="random"``: one item
    per clip with a random start on each access (the official SSNet sampling; uses torch's per-worker RNG).
    Items: ``{"clip": str, "start": int, "frames": uint8 T×H×W×3, <kind>: uint8 T×H×W for kind in maps}`` as numpy
    arrays (the default collate turns them into tensors). Clips shorter than the window are left out.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        window: int = WINDOW,
        maps: Sequence[str] = (),
        sampling: str = "all",
        stride: int = 1,
        clips: Sequence[str] | None = None,
    ):
        if sampling not in ("all", "random"):
            raise ValueError(f"sampling must be 'all' or 'random', not {sampling!r}")
        self.reader = LmdbClips(path)
        self.window, self.maps, self.sampling = window, tuple(maps), sampling
        names = list(clips) if clips is not None else list(self.reader.clips)
        for name in names:
            if name not in self.reader.clips:
                raise InputError(f"{path}: no clip {name!r}")
            lacking = [k for k in self.maps if k not in self.reader.clips[name]["maps"]]
            if lacking:
                raise InputError(f"{path}: clip {name!r} has no {', '.join(lacking)} (pack them or drop `maps`)")
        self.clip_names = [n for n in names if self.reader.num_frames(n) >= window]
        if not self.clip_names:
            raise InputError(f"{path}: no clip has {window} frames or more")
        if sampling == "all":
            self.index = [
                (n, s) for n in self.clip_names for s in window_starts(self.reader.num_frames(n), window, stride)
            ]
        else:
            self.index = [(n, -1) for n in self.clip_names]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        clip, start = self.index[i]
        if start < 0:
            start = random_window_start(self.reader.num_frames(clip), self.window)
        idx = range(start, start + self.window)
        item: dict[str, Any] = {
            "clip": clip,
            "start": start,
            "frames": np.stack([self.reader.frame(clip, j) for j in idx]),
        }
        for kind in self.maps:
            item[kind] = np.stack([self.reader.map(kind, clip, j) for j in idx])
        return item
