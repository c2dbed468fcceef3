"""The released DAVIS-Videvo train lmdb (the official ``--use_lmdb`` path): keys ``<video>/<frame>.jpg`` (UTF-8),
values the encoded image bytes (spec §4.1). Read-only; clips are listed by key and extracted byte for byte."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from svcnet.data.frames import IMAGE_SUFFIXES, natural_key
from svcnet.errors import InputError


@contextmanager
def open_release_lmdb(path: str | os.PathLike) -> Iterator:
    """The lmdb environment of folder ``path`` opened read-only, as the official loader opens it."""
    import lmdb

    if not (Path(path) / "data.mdb").is_file():
        raise InputError(f"not an lmdb folder (no data.mdb): {path}")
    env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=32)
    try:
        yield env
    finally:
        env.close()


def _frame_keys(env) -> dict[str, list[str]]:
    """video -> frame keys (``video/00000.jpg``) in numeric order; keys that are not ``<video>/<image>`` are skipped."""
    out: dict[str, list[str]] = {}
    with env.begin() as txn:
        for raw in txn.cursor().iternext(keys=True, values=False):
            key = PurePosixPath(raw.decode("utf-8", errors="replace"))
            if len(key.parts) >= 2 and key.suffix.lower() in IMAGE_SUFFIXES:
                out.setdefault(key.parts[-2], []).append(key.as_posix())
    return {v: sorted(keys, key=natural_key) for v, keys in sorted(out.items(), key=lambda kv: natural_key(kv[0]))}


def lmdb_clip_ids(path: str | os.PathLike) -> list[str]:
    """The video names of a released lmdb (the second-to-last key component, as the official class reads it)."""
    with open_release_lmdb(path) as env:
        ids = list(_frame_keys(env))
    if not ids:
        raise InputError(f"{path}: the lmdb holds no keys <video>/<frame>.jpg")
    return ids


def extract_clips(path: str | os.PathLike, videos: list[str], dest: str | os.PathLike, max_frames: int = 0) -> None:
    """Write the frames of ``videos`` to ``dest/<video>/<frame>`` (the stored bytes unchanged)."""
    dest = Path(dest)
    with open_release_lmdb(path) as env:
        keys = _frame_keys(env)
        missing = [v for v in videos if v not in keys]
        if missing:
            raise InputError(f"video(s) not in the lmdb {path}: {', '.join(missing)}")
        with env.begin() as txn:
            for video in videos:
                selected = keys[video][:max_frames] if max_frames > 0 else keys[video]
                (dest / video).mkdir(parents=True, exist_ok=True)
                for key in selected:
                    (dest / video / PurePosixPath(key).name).write_bytes(txn.get(key.encode("utf-8")))
