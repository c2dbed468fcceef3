"""lmdb packing (round trip, layout, crash safety, map size) and the multi-worker window Dataset."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import svcnet.data.lmdb_pack as lmdb_pack
from svcnet.data.clips import clip_sha256, discover_clips
from svcnet.data.frames import read_mask, read_rgb
from svcnet.data.lmdb_dataset import ClipWindowDataset, LmdbClips, open_env, random_window_start, window_starts
from svcnet.data.lmdb_pack import pack_clips
from svcnet.data.prepare import DEMO_ROOT
from svcnet.errors import InputError

CLIP_FRAMES = {"dog": 9, "car-shadow": 8}


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory) -> Path:
    """Two real demo clips (9 and 8 frames) with masks, and saliency-like maps for one of them."""
    root = tmp_path_factory.mktemp("clips")
    for name, n in CLIP_FRAMES.items():
        for kind in ("frames", "masks"):
            (root / name / kind).mkdir(parents=True)
            for f in sorted((DEMO_ROOT / name / kind).iterdir())[:n]:
                shutil.copyfile(f, root / name / kind / f.name)
    (root / "dog" / "saliency").mkdir()
    for f in sorted((root / "dog" / "masks").iterdir()):  # a soft map: blurred mask, values 0..255
        cv2.imwrite(str(root / "dog" / "saliency" / f.name), cv2.GaussianBlur(cv2.imread(str(f), 0), (21, 21), 7))
    return root


@pytest.fixture(scope="module")
def packed(clips_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lmdb") / "train.lmdb"
    pack_clips(clips_dir, out, maps=("masks", "saliency"), png_compression=1)
    return out


def test_round_trip_every_pixel(clips_dir, packed):
    reader = LmdbClips(packed)
    for clip in discover_clips(clips_dir):
        assert reader.num_frames(clip.name) == len(clip)
        for i, path in enumerate(clip.frames):
            np.testing.assert_array_equal(reader.frame(clip.name, i), read_rgb(path))
            for kind, maps in clip.maps.items():
                np.testing.assert_array_equal(reader.map(kind, clip.name, i), read_mask(maps[i]))
    with pytest.raises(InputError, match="clip 'car-shadow' has no saliency"):
        reader.map("saliency", "car-shadow", 0)


def test_layout_keys_meta_info_and_manifest(clips_dir, packed):
    manifest = json.loads((packed / "manifest.json").read_text())
    assert manifest["maps"] == ["masks", "saliency"]
    assert manifest["clips"]["dog"]["counts"] == {"frames": 9, "masks": 9, "saliency": 9}
    assert manifest["clips"]["car-shadow"]["counts"] == {"frames": 8, "masks": 8}
    assert manifest["records"] == 9 * 3 + 8 * 2
    for clip in discover_clips(clips_dir):
        assert manifest["clips"][clip.name]["source_sha256"] == clip_sha256(clip)
    meta = (packed / "meta_info.txt").read_text().splitlines()
    assert len(meta) == 17 and meta[0] == "car-shadow/00000 (256,448,3)" and meta[8] == "dog/00000 (256,448,3)"
    assert all(re.fullmatch(r"[\w-]+/\d{5} \(256,448,3\)", line) for line in meta)
    assert (packed / "meta_info_saliency.txt").read_text().splitlines() == [
        f"dog/{i:05d} (256,448,1)" for i in range(9)
    ]
    env, dbs = open_env(packed, ("masks",))  # the process-wide read-only environment the readers share
    with env.begin() as txn:
        keys = {k.decode() for k, _ in txn.cursor()}
    with env.begin(db=dbs["masks"]) as txn:
        mask_keys = {k.decode() for k, _ in txn.cursor()}
    frame_keys = {line.split()[0] for line in meta}
    assert keys == frame_keys | {"masks", "saliency"}  # the main db also names the two sub-databases
    assert mask_keys == frame_keys


def test_map_size_is_computed_from_the_data(clips_dir, packed):
    manifest = json.loads((packed / "manifest.json").read_text())
    raw = 17 * 256 * 448 * 3 + 17 * 256 * 448 + 9 * 256 * 448  # frames + masks + saliency, uncompressed
    assert (packed / "data.mdb").stat().st_size <= manifest["map_size"] < 2 * raw + 32 * 2**20


def test_map_full_grows_the_map(clips_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(lmdb_pack, "estimate_map_size", lambda clips: 256 * 1024)
    manifest = pack_clips(clips_dir, tmp_path / "small.lmdb")
    assert manifest["map_size"] > 256 * 1024
    np.testing.assert_array_equal(
        LmdbClips(tmp_path / "small.lmdb").frame("car-shadow", 7),
        read_rgb(clips_dir / "car-shadow" / "frames" / "00007.jpg"),
    )


def test_error_mid_pack_leaves_nothing(clips_dir, tmp_path):
    def boom(n):
        if n == 5:
            raise RuntimeError("simulated failure")

    with pytest.raises(RuntimeError):
        pack_clips(clips_dir, tmp_path / "x.lmdb", on_record=boom)
    assert list(tmp_path.iterdir()) == []


def test_killed_pack_is_restarted_clean(clips_dir, tmp_path):
    out = tmp_path / "train.lmdb"
    crash = textwrap.dedent(f"""
        import os
        from svcnet.data.lmdb_pack import pack_clips
        def die(n):
            if n == 10:
                os._exit(9)  # like SIGKILL: no cleanup, no exception handlers
        pack_clips({str(clips_dir)!r}, {str(out)!r}, on_record=die)
    """)
    proc = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".train.lmdb.")  # the half-written temporary
    pack_clips(clips_dir, out)
    assert [p.name for p in tmp_path.iterdir()] == ["train.lmdb"]
    reader = LmdbClips(out)
    assert sum(reader.num_frames(c) for c in reader.clips) == 17
    np.testing.assert_array_equal(reader.frame("dog", 8), read_rgb(clips_dir / "dog" / "frames" / "00008.jpg"))


def test_window_helpers():
    assert window_starts(9, 7) == [0, 1, 2]
    assert window_starts(9, 7, stride=2) == [0, 2]
    assert window_starts(6, 7) == []
    g = torch.Generator().manual_seed(0)
    starts = {random_window_start(9, 7, g) for _ in range(200)}
    assert starts == {0, 1, 2}
    with pytest.raises(ValueError):
        random_window_start(6, 7)


def test_dataset_windows(clips_dir, packed):
    ds = ClipWindowDataset(packed, window=7, maps=("masks",))
    assert len(ds) == (9 - 6) + (8 - 6)
    assert [(c, s) for c, s in ds.index] == [("car-shadow", 0), ("car-shadow", 1), ("dog", 0), ("dog", 1), ("dog", 2)]
    item = ds[4]
    assert (item["clip"], item["start"]) == ("dog", 2)
    assert item["frames"].shape == (7, 256, 448, 3) and item["frames"].dtype == np.uint8
    assert item["masks"].shape == (7, 256, 448)
    for t in range(7):
        np.testing.assert_array_equal(item["frames"][t], read_rgb(clips_dir / "dog" / "frames" / f"{t + 2:05d}.jpg"))
    rnd = ClipWindowDataset(packed, window=8, sampling="random")
    assert (
        len(rnd) == 2 and {rnd[0]["start"] for _ in range(30)} == {0} and {rnd[1]["start"] for _ in range(40)} == {0, 1}
    )
    assert ClipWindowDataset(packed, window=9).clip_names == ["dog"]  # car-shadow is too short
    with pytest.raises(InputError, match="clip 'car-shadow' has no saliency"):
        ClipWindowDataset(packed, maps=("saliency",))
    with pytest.raises(InputError, match="no clip has 10 frames"):
        ClipWindowDataset(packed, window=10)
    with pytest.raises(InputError, match="run `svcnet pack` first"):
        LmdbClips(clips_dir)


def test_dataloader_with_two_workers(packed):
    ds = ClipWindowDataset(packed, window=7, maps=("masks",))
    expected = [ds[i] for i in range(len(ds))]  # opens the environment in this process before the workers fork
    other = ClipWindowDataset(packed, window=7)  # a second reader of the same lmdb in the same process
    assert other[0]["frames"].sum() == expected[0]["frames"].sum()
    loader = DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
    got = []
    for batch in loader:
        assert batch["frames"].dtype == torch.uint8
        for b in range(batch["frames"].shape[0]):
            got.append(
                (batch["clip"][b], int(batch["start"][b]), batch["frames"][b].numpy(), batch["masks"][b].numpy())
            )
    assert [(c, s) for c, s, _, _ in got] == [(e["clip"], e["start"]) for e in expected]
    for (_, _, frames, masks), e in zip(got, expected):
        np.testing.assert_array_equal(frames, e["frames"])
        np.testing.assert_array_equal(masks, e["masks"])


def test_pack_cli(clips_dir, tmp_path):
    from svcnet.cli import main

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "cli.lmdb"
    assert main(["pack", str(clips_dir), "--out", str(out), "--config", str(repo / "config" / "config.yaml")]) == 0
    assert json.loads((out / "manifest.json").read_text())["png_compression"] == 1
    sal = tmp_path / "sal"
    for name, n in CLIP_FRAMES.items():
        (sal / name).mkdir(parents=True)
        for i in range(n):
            shutil.copyfile(clips_dir / name / "masks" / f"{i:05d}.png", sal / name / f"{i:05d}.png")
    assert main(["pack", str(clips_dir), "--out", str(out), "--map", f"saliency={sal}"]) == 0
    reader = LmdbClips(out)
    assert reader.clips["car-shadow"]["maps"] == ["masks", "saliency"]
    np.testing.assert_array_equal(reader.map("saliency", "car-shadow", 3), read_mask(sal / "car-shadow" / "00003.png"))
    assert main(["pack", str(tmp_path / "nope"), "--out", str(tmp_path / "n.lmdb")]) == 2
