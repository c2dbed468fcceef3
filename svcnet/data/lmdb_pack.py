"""Pack a clip set into one lmdb environment (BasicSR convention) for fast training I/O.

Layout of ``X.lmdb/`` (a folder):

* ``data.mdb``: the main (unnamed) database holds the frames; key ``<clip>/<frame>`` (frame = file stem, e.g.
  ``dog/00012``), value = lossless PNG bytes of the uint8 RGB frame (BasicSR-compatible).
* named sub-databases ``masks`` and ``saliency`` (when the clips have them) hold the single-channel maps under the
  same keys. (LMDB records the sub-database names as two extra keys of the main database; keys of frames always
  contain ``/``, so they never collide.)
* ``meta_info.txt``: one line per frame, ``<clip>/<frame> (H,W,C)`` (BasicSR style), in numeric frame order;
  ``meta_info_<kind>.txt`` the same for each map kind.
* ``manifest.json``: format, map kinds, PNG level, per clip the frame names in numeric order, counts per kind and
  the sha256 of the source files.

The same clips and settings give byte-identical files (no lock file, unused page space zeroed). The folder is written
to a temporary sibling and renamed when complete; stale temporaries of a killed run are
removed first, so a re-run starts clean. The map size is computed from the data (an upper bound of the PNG sizes) and
doubled if LMDB ever reports it full.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from svcnet.data.atomic import atomic_path, remove_stale_temps
from svcnet.data.clips import MAP_KINDS, Clip, clip_sha256, discover_clips, with_maps
from svcnet.data.frames import read_mask, read_rgb
from svcnet.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "svcnet-lmdb/1"
MANIFEST = "manifest.json"
PAGE = 4096


def record_key(clip: str, frame: str) -> bytes:
    """The lmdb key of one frame: ``<clip>/<frame>`` in UTF-8."""
    return f"{clip}/{frame}".encode()


def estimate_map_size(clips: Sequence[Clip]) -> int:
    """An upper bound of the bytes the packed clips need (PNG never exceeds raw size by more than ~1% + headers)."""
    total = 0
    for clip in clips:
        channels = 3 + len(clip.maps)  # RGB frame + one channel per map
        raw = clip.height * clip.width * channels + clip.height * (1 + len(clip.maps))
        per_frame_pages = math.ceil((raw * 1.01 + 1024 * (1 + len(clip.maps))) / PAGE) + 2 * (1 + len(clip.maps))
        total += len(clip) * per_frame_pages * PAGE
    return int(total * 1.1) + 16 * 2**20


def _encode(img: np.ndarray, level: int) -> bytes:
    import cv2

    arr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, level])
    if not ok:
        raise InputError(f"PNG encoding failed for an array of shape {img.shape}")
    return buf.tobytes()


def _clip_records(clip: Clip, kinds: Sequence[str], level: int):
    """(db name or None, key, PNG bytes) of every frame and map of a clip, frame by frame."""
    for i, stem in enumerate(clip.stems):
        key = record_key(clip.name, stem)
        yield None, key, _encode(read_rgb(clip.frames[i]), level)
        for kind in kinds:
            if kind in clip.maps:
                yield kind, key, _encode(read_mask(clip.maps[kind][i]), level)


def _put_clip(env, dbs: dict, clip: Clip, kinds, level: int, map_size: int, written: int, on_record) -> tuple[int, int]:
    """Write one clip's records in one transaction, doubling the map size and starting the clip again while it is
    full; returns the records written so far and the map size."""
    import lmdb

    while True:
        count = written
        try:
            with env.begin(write=True) as txn:
                for kind, key, value in _clip_records(clip, kinds, level):
                    txn.put(key, value, db=dbs[kind], overwrite=True)
                    count += 1
                    if on_record is not None:
                        on_record(count)
            return count, map_size
        except lmdb.MapFullError:
            map_size *= 2
            log.warning("lmdb map full; growing it to %d bytes and rewriting clip %s", map_size, clip.name)
            env.set_mapsize(map_size)


def _clip_entry(clip: Clip, kinds) -> dict:
    """A clip's entry in the manifest."""
    present = [k for k in kinds if k in clip.maps]
    return {
        "frames": list(clip.stems),
        "height": clip.height,
        "width": clip.width,
        "maps": present,
        "counts": {"frames": len(clip), **{k: len(clip.maps[k]) for k in present}},
        "source_sha256": clip_sha256(clip),
    }


def pack_clips(
    clips_dir: str | os.PathLike,
    out: str | os.PathLike,
    maps: Sequence[str] = MAP_KINDS,
    png_compression: int = 1,
    extra_maps: Mapping[str, str | os.PathLike] | None = None,
    on_record: Callable[[int], None] | None = None,
) -> dict:
    """Pack the clips of ``clips_dir`` into the lmdb folder ``out`` atomically; returns the manifest.

    ``maps``: map kinds to include when a clip has them (sub-folders of each clip). ``extra_maps``: kind → folder
    laid out ``<clip>/<frame>.png`` (e.g. saliency maps made by another stage), required for every clip.
    ``on_record(n)`` is called after each record written (progress, tests).
    """
    import lmdb
    from tqdm import tqdm

    out = Path(out)
    remove_stale_temps(out)
    clips = discover_clips(clips_dir)
    for kind, folder in (extra_maps or {}).items():
        clips = [with_maps(c, kind, Path(folder) / c.name) for c in clips]
    kinds = [k for k in dict.fromkeys([*maps, *(extra_maps or {})]) if any(k in c.maps for c in clips)]
    map_size = estimate_map_size(clips)
    manifest: dict = {
        "format": FORMAT,
        "key": "<clip>/<frame>",
        "value": "PNG, uint8 RGB frames (main database) / uint8 single-channel maps (named databases)",
        "maps": kinds,
        "png_compression": png_compression,
        "source": str(clips_dir),
        "map_size": map_size,
        "clips": {},
    }
    meta: dict[str, list[str]] = {"frames": [], **{k: [] for k in kinds}}
    written = 0
    with atomic_path(out) as tmp:
        # meminit: unused page space is zeroed (else it holds stale heap bytes); no lock file (nobody else opens the
        # temporary folder): the same clips give a byte-identical data.mdb.
        env = lmdb.open(str(tmp), map_size=map_size, max_dbs=len(kinds) + 1, subdir=True, meminit=True, lock=False)
        try:
            dbs = {None: None, **{k: env.open_db(k.encode()) for k in kinds}}
            for clip in tqdm(clips, desc="pack", unit="clip", disable=None):
                written, map_size = _put_clip(env, dbs, clip, kinds, png_compression, map_size, written, on_record)
                manifest["clips"][clip.name] = _clip_entry(clip, kinds)
                for kind, channels in (("frames", 3), *((k, 1) for k in kinds if k in clip.maps)):
                    meta[kind] += [f"{clip.name}/{s} ({clip.height},{clip.width},{channels})" for s in clip.stems]
            env.sync(True)
        finally:
            env.close()
        manifest["map_size"] = map_size
        manifest["records"] = sum(len(v) for v in meta.values())
        (tmp / "meta_info.txt").write_text("".join(line + "\n" for line in meta["frames"]))
        for k in kinds:
            (tmp / f"meta_info_{k}.txt").write_text("".join(line + "\n" for line in meta[k]))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("packed %d clips, %d records into %s", len(clips), manifest["records"], out)
    return manifest
