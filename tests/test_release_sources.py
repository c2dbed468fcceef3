"""The SVCNet release data sources in their exact layouts (docs/official.md §4.1), built from the embedded demo frames:
DAVIS-Videvo train (JPG folder and the released lmdb) with the fusion seg/saliency folder, the validation release
with its DAVIS/videvo tags, and stage 1's image + saliency folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from svcnet.config import ClipSetConfig
from svcnet.data.clips import discover_clips
from svcnet.data.frames import read_mask, read_rgb
from svcnet.data.prepare import DEMO_ROOT, prepare_clipset
from svcnet.data.testsets import split_test_sets
from svcnet.errors import InputError
from svcnet.sources import get_source, registry_place

N = 3  # frames per clip
TRAIN = {"dog": "dog", "BirdsFlying": "blackswan"}  # release video -> demo clip its frames come from
VAL = {"DAVIS/dog": "dog", "DAVIS/car-shadow": "car-shadow", "videvo/Cycling": "blackswan"}


def place(root: Path, name: str) -> Path:
    """Where `svcnet fetch <name>` puts a registry entry under ``root``."""
    return registry_place(get_source(name), root)


def copy_frames(demo: str, dest: Path, kind: str = "frames", suffix: str = ".jpg") -> None:
    dest.mkdir(parents=True)
    for path in sorted((DEMO_ROOT / demo / kind).iterdir())[:N]:
        if path.suffix == suffix:
            shutil.copyfile(path, dest / path.name)
        else:
            import cv2

            cv2.imwrite(str(dest / f"{path.stem}{suffix}"), cv2.imread(str(path), cv2.IMREAD_UNCHANGED))


@pytest.fixture
def release(tmp_path) -> Path:
    """A fetch root with the train JPG folder, the fusion seg/saliency folder, the lmdb and the validation release."""
    root = tmp_path / "fetch"
    jpg = place(root, "svcnet_davis_videvo_train_jpg")
    seg = place(root, "svcnet_davis_videvo_train_seg_saliency")
    for video, demo in TRAIN.items():
        copy_frames(demo, jpg / video)
        copy_frames(demo, seg / video, "masks", ".png" if video == "dog" else ".jpg")  # masks (DAVIS) / saliency
    lmdb_dir = place(root, "svcnet_davis_videvo_train_lmdb") / "DAVIS_videvo_train_lmdb"
    write_release_lmdb(jpg, lmdb_dir)
    val = place(root, "svcnet_davis_videvo_val_jpg") / "val"  # the zip's own top folder
    for clip_id, demo in VAL.items():
        copy_frames(demo, val / clip_id)
    return root


def write_release_lmdb(jpg: Path, dest: Path) -> None:
    """The official lmdb layout: keys ``video/00000.jpg``, values the JPG bytes."""
    import lmdb

    dest.mkdir(parents=True)
    env = lmdb.open(str(dest), map_size=64 << 20)
    with env.begin(write=True) as txn:
        for path in sorted(jpg.rglob("*.jpg")):
            txn.put(f"{path.parent.name}/{path.name}".encode(), path.read_bytes())
    env.close()


def test_validation_release_prepares_nested_clips_with_tag_ids(release, tmp_path):
    cs = ClipSetConfig(source="svcnet_davis_videvo_val")
    out = tmp_path / "eval"
    manifest = prepare_clipset(cs, out, (256, 448), fetch_root=release)
    ids = ["DAVIS/car-shadow", "DAVIS/dog", "videvo/Cycling"]
    assert list(manifest["clips"]) == ids
    for clip_id, demo in VAL.items():
        frames = sorted((out / clip_id / "frames").iterdir())
        assert [p.name for p in frames] == ["00000.jpg", "00001.jpg", "00002.jpg"]
        assert frames[0].read_bytes() == (DEMO_ROOT / demo / "frames" / "00000.jpg").read_bytes()
    assert [c.name for c in discover_clips(out)] == ids
    assert split_test_sets(ids) == {"DAVIS": ids[:2], "videvo": ids[2:]}
    cs = ClipSetConfig(source="svcnet_davis_videvo_val", sequences=("videvo/Cycling",), max_frames=2)
    manifest = prepare_clipset(cs, tmp_path / "one", (128, 224), fetch_root=release)
    assert manifest["clips"]["videvo/Cycling"]["frames"] == 2
    assert read_rgb(tmp_path / "one" / "videvo/Cycling/frames/00001.png").shape == (128, 224, 3)


def _train(release: Path, out: Path, **cs) -> dict:
    return prepare_clipset(ClipSetConfig(source="svcnet_davis_videvo_train", **cs), out, (256, 448), fetch_root=release)


def test_train_release_jpg_with_fusion_maps_as_saliency(release, tmp_path):
    manifest = _train(release, tmp_path / "train")
    assert list(manifest["clips"]) == ["BirdsFlying", "dog"]
    assert manifest["clips"]["dog"]["saliency"] == N
    for video in TRAIN:
        clip = tmp_path / "train" / video
        assert sorted(p.name for p in clip.iterdir()) == ["frames", "saliency"]
        (source,) = (place(release, "svcnet_davis_videvo_train_seg_saliency") / video).glob("00001.*")
        np.testing.assert_array_equal(read_mask(clip / "saliency" / "00001.png"), read_mask(source))
    assert manifest["seg"].endswith("DAVIS_videvo_fusion_saliency_maps_and_segmentations")


def test_train_release_lmdb_gives_the_same_clips(release, tmp_path):
    jpg = _train(release, tmp_path / "jpg")
    lmdb = _train(release, tmp_path / "lmdb", root="registry:svcnet_davis_videvo_train_lmdb")
    assert lmdb["root"].endswith("DAVIS_videvo_train_lmdb") and lmdb["clips"] == jpg["clips"]
    for path in sorted((tmp_path / "jpg").rglob("*.*")):
        if path.name != "manifest.json":
            assert (tmp_path / "lmdb" / path.relative_to(tmp_path / "jpg")).read_bytes() == path.read_bytes()
    part = _train(
        release, tmp_path / "part", root="registry:svcnet_davis_videvo_train_lmdb", sequences=("dog",), max_frames=2
    )
    assert list(part["clips"]) == ["dog"] and part["clips"]["dog"]["frames"] == 2
    assert not list(tmp_path.glob(".lmdb-extract-*"))  # the extraction folder is removed


def test_train_release_missing_seg_folder_of_a_clip(release, tmp_path):
    shutil.rmtree(place(release, "svcnet_davis_videvo_train_seg_saliency") / "dog")
    with pytest.raises(InputError, match=r"clip 'dog': no seg/saliency folder .*/dog"):
        _train(release, tmp_path / "train")


def test_missing_release_names_the_fetch_step(tmp_path):
    with pytest.raises(InputError, match=r"svcnet fetch svcnet_davis_videvo_val_jpg"):
        prepare_clipset(ClipSetConfig(source="svcnet_davis_videvo_val"), tmp_path / "eval", fetch_root=tmp_path)


def test_saliency_auto_takes_the_release_maps(release, tmp_path):
    from svcnet.saliency.run import SaliencySettings, run_saliency

    _train(release, tmp_path / "train")
    results = run_saliency(tmp_path / "train", tmp_path / "sal", SaliencySettings(method="auto"))
    assert [(r["clip"], r["method"]) for r in results] == [("BirdsFlying", "release"), ("dog", "release")]
    np.testing.assert_array_equal(
        read_mask(tmp_path / "sal" / "dog" / "00002.png"),
        read_mask(tmp_path / "train" / "dog" / "saliency" / "00002.png"),
    )
    meta = json.loads((tmp_path / "sal" / "dog" / "metadata.json").read_text())
    assert meta["reason"].startswith("auto: the clip's prepared seg/saliency maps")


def test_stage1_images_and_saliency_by_registry_name(tmp_path, monkeypatch):
    from svcnet.train.cpnet_data import CPNetImages
    from svcnet.train.stages import configured_folder

    monkeypatch.chdir(tmp_path)
    images = place(Path("."), "svcnet_imagenet_train_jpg")
    saliency = place(Path("."), "svcnet_imagenet_train_saliency")
    copy_frames("dog", images / "n01440764")
    with pytest.raises(
        InputError, match=r"train.cpnet1.image_saliency: folder not found: .*svcnet fetch svcnet_imagenet"
    ):
        configured_folder("train.cpnet1.image_saliency", "registry:svcnet_imagenet_train_saliency", "the seg loss")
    with pytest.raises(InputError, match="saliency folder not found"):
        CPNetImages(images, (64, 64), lambda rgb, rng: np.zeros_like(rgb), saliency_root=saliency)
    copy_frames("dog", saliency / "n01440764", "masks", ".png")  # same names, .png maps
    assert configured_folder("x", "registry:svcnet_imagenet_train_jpg") == images
    ds = CPNetImages(images, (64, 64), lambda rgb, rng: np.zeros_like(rgb), saliency_root=saliency)
    assert len(ds) == N and float(ds[0]["has_seg"]) == 1.0
    (saliency / "n01440764" / "00001.png").unlink()
    with pytest.raises(InputError, match=r"no saliency map for .*00001.jpg"):
        [ds[i] for i in range(N)]


def test_resolve_registry_path(tmp_path):
    from svcnet.errors import SvcnetError
    from svcnet.sources import resolve_registry_path

    assert resolve_registry_path("registry:svcnet_davis_videvo_val_jpg", tmp_path) == (
        tmp_path / "resources/svcnet/davis_videvo_val_jpg"
    )
    assert resolve_registry_path("registry:SVCNet-ImageNet-Train-JPG", tmp_path) == (
        tmp_path / "resources/svcnet/imagenet_train_jpg/ILSVRC2012_train_256"
    )
    assert resolve_registry_path("registry:cpnet", tmp_path) == tmp_path / "weights/cpnet_epoch1000_batchsize32.pth"
    assert resolve_registry_path("some/folder", tmp_path) == Path("some/folder")
    with pytest.raises(SvcnetError, match="name a registry entry"):
        resolve_registry_path("registry:", tmp_path)
    with pytest.raises(SvcnetError, match="unknown source 'nope'"):
        resolve_registry_path("registry:nope", tmp_path)


def test_infer_set_lists_nested_clip_ids(release, tmp_path):
    from svcnet.evaluate.infer_set import split_clips

    prepare_clipset(ClipSetConfig(source="svcnet_davis_videvo_val"), tmp_path / "eval", fetch_root=release)
    assert split_clips(tmp_path / "eval") == ["DAVIS/car-shadow", "DAVIS/dog", "videvo/Cycling"]


@pytest.mark.parametrize("entry", ["svcnet_davis_videvo_train_jpg", "svcnet_davis_videvo_train_lmdb"])
def test_planned_train_clips_of_the_present_release(release, tmp_path, entry):
    from svcnet.config import load_config
    from svcnet.data.testsets import planned_clips

    extra = tmp_path / "extra.yaml"
    extra.write_text(f"data: {{train: {{source: svcnet_davis_videvo_train, root: 'registry:{entry}'}}}}")
    cfg = load_config([Path(__file__).resolve().parents[1] / "config" / "config.yaml", extra], "demo")
    assert planned_clips(cfg, "train", fetch_root=release) == ["BirdsFlying", "dog"]
    assert len(planned_clips(cfg, "train", fetch_root=tmp_path / "empty")) == 156  # the shipped release list
