"""The paper-shaped miniature release (tests/paper_miniature.py) goes through `svcnet fetch` like the real one: direct
files downloaded from a local HTTP server and verified, share-page files saved by hand then unpacked, and every
archive unpacks into the layout docs/official.md §4.1 names; every weight file loads strictly into its network."""

from __future__ import annotations

import hashlib
import subprocess

import cv2
import numpy as np
import paper_miniature as mini
import pytest


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> mini.Release:
    return mini.build_release(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def installed(release, tmp_path_factory):
    """The release fetched into a fresh root through the test registry; yields (root, registry, fetch output)."""
    root = tmp_path_factory.mktemp("fetch_root")
    with mini.serve(release) as urls:
        registry = mini.write_registry(release, urls, root / "test_sources.yaml")
        proc = mini.install(release, registry, root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, registry, proc.stdout


def relative_files(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_every_release_entry_of_the_registry_is_built(release):
    from svcnet.sources import load_registry

    registry = load_registry(mini.REPO / "datasets" / "sources.yaml")
    svcnet_archives = {n for n, s in registry.items() if n.startswith("svcnet_") and s.unpack}
    assert svcnet_archives == set(mini.ARCHIVES)
    weights = {n for n, s in registry.items() if s.kind == "weights"}
    assert weights == set(release.files) - set(mini.ARCHIVES) | set(release.members)
    for name, path in release.files.items():
        assert path.name == registry[name].file


def test_fetch_downloads_the_direct_ones_and_unpacks_everything(installed, release):
    root, registry, out = installed
    for name in mini.direct_names(release):
        if name != "devc_checkpoints":
            assert f"{name}: downloaded to {root}/weights/" in out, out
    assert f"svcnet_davis_videvo_val_jpg: already at {root}/resources/downloads/DAVIS_Videvo_val.zip (sha256 " in out
    assert "corrnet_vgg19: taken from" in out
    # a second fetch finds everything in place
    again = subprocess.run(
        ["svcnet", "fetch", "--dest", str(root), *release.files, *release.members],
        env=mini.env_with(registry),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "downloaded" not in again and "taken from" not in again


def test_weight_files_have_the_registered_sha256_and_load_strictly(installed, release):
    import torch

    from svcnet.models.checkpoint import load_official
    from svcnet.sources import load_registry

    root, registry, _ = installed
    sources = load_registry(registry)
    nets = mini.state_dicts()
    for name in [*release.files, *release.members]:
        src = sources[name]
        if src.kind != "weights" or src.unpack:
            continue
        path = src.dest_path(root)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == src.sha256, name
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert state.keys() == nets[name].keys(), name
    from svcnet.models.cpnet import CPNet
    from svcnet.models.ssnet import SSNet

    load_official(CPNet(), sources["cpnet"].dest_path(root))
    load_official(SSNet(), sources["ssnet"].dest_path(root), what="SSNet")


def test_imagenet_folders_have_parallel_saliency_maps(installed):
    root, _, _ = installed
    base = root / "resources/svcnet"
    for split in ("train", "val"):
        images = base / f"imagenet_{split}_jpg" / f"ILSVRC2012_{split}_256"
        maps = base / f"imagenet_{split}_saliency" / f"ILSVRC2012_{split}_256_saliencymap"
        names = relative_files(images)
        assert names and names == relative_files(maps)
        assert all(n.endswith(".JPEG") for n in names)
        assert cv2.imread(str(images / names[0])).shape == (256, 256, 3)
    train = relative_files(base / "imagenet_train_jpg" / "ILSVRC2012_train_256")
    assert train[0] == "n01440764/n01440764_100.JPEG" and len(train) == 6
    assert relative_files(base / "imagenet_val_jpg" / "ILSVRC2012_val_256")[0] == "ILSVRC2012_val_00000001.JPEG"


def test_davis_videvo_train_jpg_lmdb_and_seg_share_the_frame_list(installed):
    import lmdb

    root, _, _ = installed
    base = root / "resources/svcnet"
    frames = relative_files(base / "davis_videvo_train_jpg" / "DAVIS_videvo_train")
    expected = [f"{v}/{i:05d}.jpg" for v in sorted(mini.TRAIN_CLIPS) for i in range(mini.TRAIN_FRAMES)]
    assert frames == sorted(expected)
    seg = base / "davis_videvo_train_seg_saliency" / "DAVIS_videvo_fusion_saliency_maps_and_segmentations"
    assert relative_files(seg) == frames
    mask = cv2.imread(str(seg / "blackswan/00003.jpg"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == mini.TRAIN_SIZE and mask.min() < 20 and mask.max() > 235  # a DAVIS object mask
    assert relative_files(base / "davis_videvo_train_lmdb") == ["data.mdb", "lock.mdb"]
    env = lmdb.open(str(base / "davis_videvo_train_lmdb"), readonly=True, lock=False, readahead=False, meminit=False)
    with env.begin() as txn:
        keys = [k.decode() for k, _ in txn.cursor()]
        value = txn.get(b"BarleyField/00007.jpg")
    env.close()
    assert sorted(keys) == frames
    jpg = (base / "davis_videvo_train_jpg/DAVIS_videvo_train/BarleyField/00007.jpg").read_bytes()
    assert value == jpg


def test_validation_release_has_davis_and_videvo_tags_at_original_size(installed):
    root, _, _ = installed
    val = root / "resources/svcnet/davis_videvo_val_jpg"
    assert sorted(p.name for p in val.iterdir()) == ["DAVIS", "videvo"]
    for tag, clips in mini.VAL_CLIPS.items():
        assert sorted(p.name for p in (val / tag).iterdir()) == sorted(clips)
        for video in clips:
            names = relative_files(val / tag / video)
            assert names == [f"{i:05d}.jpg" for i in range(mini.VAL_FRAMES)]
            assert cv2.imread(str(val / tag / video / names[0])).shape[:2] == mini.VAL_SIZE[tag]
    # the mirrored clip is a different video from its source
    a = cv2.imread(str(val / "videvo/WaterDrop/00000.jpg")).astype(int)
    b = cv2.imread(str(val / "DAVIS/car-shadow/00000.jpg")).astype(int)
    assert a.shape != b.shape or np.abs(a - b).mean() > 5


def test_davis_original_has_images_and_palette_annotations(installed):
    from PIL import Image

    root, _, _ = installed
    davis = root / "resources/svcnet/davis_original/DAVIS"
    images = relative_files(davis / "JPEGImages/480p")
    annotations = relative_files(davis / "Annotations/480p")
    assert [n[:-4] for n in images] == [n[:-4] for n in annotations] and len(images) == len(
        mini.VAL_CLIPS["DAVIS"]
    ) * mini.VAL_FRAMES
    ann = Image.open(davis / "Annotations/480p" / annotations[0])
    assert ann.mode == "P" and set(np.unique(np.asarray(ann))) == {0, 1}


def test_an_explicit_checkpoint_is_used_without_the_registry_sha256(installed, monkeypatch, tmp_path):
    from svcnet.errors import ChecksumError
    from svcnet.infer.models import WeightOptions, weight_path

    root, registry, _ = installed
    monkeypatch.setenv("SVCNET_SOURCES", str(registry))
    trained = tmp_path / "cpnet.pth"  # a checkpoint trained here: not the released file
    trained.write_bytes(b"not the released weights")
    assert weight_path("cpnet", WeightOptions(cpnet=trained)) == trained
    assert weight_path("cpnet", WeightOptions(weights_dir=root / "weights")).parent == root / "weights"
    other = tmp_path / "weights"  # the registry file itself is verified
    other.mkdir()
    (other / "cpnet_epoch1000_batchsize32.pth").write_bytes(b"not the released weights")
    with pytest.raises(ChecksumError, match="expected [0-9a-f]{64}"):
        weight_path("cpnet", WeightOptions(weights_dir=other))
