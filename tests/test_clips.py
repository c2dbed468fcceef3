"""Clip discovery (layouts, numeric order, faults) and `svcnet prepare` (demo, local DAVIS layouts, atomic output)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from svcnet.config import ClipSetConfig
from svcnet.data.clips import clip_sha256, discover_clips, with_maps
from svcnet.data.frames import read_mask, read_rgb
from svcnet.data.prepare import DEMO_ROOT, prepare_clipset
from svcnet.errors import InputError

DOG = DEMO_ROOT / "dog"


def copy_frames(src: Path, dst: Path, n: int, names=None, suffix=".jpg") -> list[Path]:
    """Copy the first n demo files of ``src`` into ``dst`` under new names (default: the source names)."""
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(src.iterdir())[:n]
    out = []
    for i, f in enumerate(files):
        target = dst / ((names[i] if names else f.stem) + suffix)
        shutil.copyfile(f, target)
        out.append(target)
    return out


def make_clip(root: Path, name: str, n: int = 4, masks: bool = True) -> Path:
    copy_frames(DOG / "frames", root / name / "frames", n)
    if masks:
        copy_frames(DOG / "masks", root / name / "masks", n, suffix=".png")
    return root / name


def test_demo_clips_are_embedded():
    clips = discover_clips(DEMO_ROOT)
    assert [c.name for c in clips] == ["blackswan", "car-shadow", "dog"]
    assert [len(c) for c in clips] == [50, 40, 60]
    for c in clips:
        assert (c.height, c.width) == (256, 448)
        assert set(c.maps) == {"masks"}
        assert set(np.unique(read_mask(c.maps["masks"][0]))) <= {0, 255}


def test_numeric_order_of_frames_and_clips(tmp_path):
    names = ["frame10", "frame2", "frame1", "frame9"]
    copy_frames(DOG / "frames", tmp_path / "clip10", 4, names)
    copy_frames(DOG / "frames", tmp_path / "clip2", 4, names)
    clips = discover_clips(tmp_path)
    assert [c.name for c in clips] == ["clip2", "clip10"]
    assert clips[0].stems == ("frame1", "frame2", "frame9", "frame10")
    # frame1 is the third demo file copied: pixels follow the names, not the directory order
    np.testing.assert_array_equal(read_rgb(clips[0].frames[0]), read_rgb(sorted((DOG / "frames").iterdir())[2]))


def test_flat_davis_official_and_single_clip_layouts(tmp_path):
    copy_frames(DOG / "frames", tmp_path / "flat" / "dog", 3)  # <root>/<clip>/*.jpg
    assert [(c.name, len(c), dict(c.maps)) for c in discover_clips(tmp_path / "flat")] == [("dog", 3, {})]

    davis = tmp_path / "DAVIS"
    copy_frames(DOG / "frames", davis / "JPEGImages" / "480p" / "dog", 3)
    copy_frames(DOG / "masks", davis / "Annotations" / "480p" / "dog", 3, suffix=".png")
    (clip,) = discover_clips(davis)
    assert clip.name == "dog" and len(clip.maps["masks"]) == 3

    single = make_clip(tmp_path / "one", "film", 3)
    assert [c.name for c in discover_clips(single)] == ["film"]
    assert [c.name for c in discover_clips(single / "frames")] == ["frames"]


def test_sequences_and_max_frames(tmp_path):
    clips = discover_clips(DEMO_ROOT, sequences=["dog", "blackswan"], max_frames=5)
    assert [c.name for c in clips] == ["dog", "blackswan"]
    assert all(len(c) == 5 and len(c.maps["masks"]) == 5 for c in clips)
    with pytest.raises(InputError, match="sequence\\(s\\) not found in .*: cat"):
        discover_clips(DEMO_ROOT, sequences=["dog", "cat"])


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(InputError, match="clip folder not found"):
        discover_clips(tmp_path / "nope")
    with pytest.raises(InputError, match="no clips in"):
        discover_clips(tmp_path)
    (tmp_path / "a" / "frames").mkdir(parents=True)
    with pytest.raises(InputError, match=f"no image frames .* in {tmp_path / 'a' / 'frames'}"):
        discover_clips(tmp_path)


def test_unreadable_frame_is_named(tmp_path):
    clip = make_clip(tmp_path, "c", 4)
    bad = clip / "frames" / "00002.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(InputError, match=f"unreadable image .*: {bad}"):
        discover_clips(tmp_path)


def test_frames_of_different_sizes_are_named(tmp_path):
    clip = make_clip(tmp_path, "c", 4)
    small = cv2.resize(cv2.imread(str(clip / "frames" / "00003.jpg")), (224, 128))
    cv2.imwrite(str(clip / "frames" / "00003.jpg"), small)
    with pytest.raises(InputError, match=r"00003\.jpg is 224x128 but 00000\.jpg is 448x256"):
        discover_clips(tmp_path)


def test_mask_count_and_name_mismatch(tmp_path):
    clip = make_clip(tmp_path, "c", 4)
    (clip / "masks" / "00002.png").unlink()
    with pytest.raises(InputError, match=r"3 masks file\(s\) for 4 frames; no masks file for frame .*00002\.jpg"):
        discover_clips(tmp_path)
    shutil.copyfile(clip / "masks" / "00001.png", clip / "masks" / "00002.png")
    shutil.copyfile(clip / "masks" / "00001.png", clip / "masks" / "00007.png")
    with pytest.raises(InputError, match=r"masks file without a frame of the same name: .*00007\.png"):
        discover_clips(tmp_path)


def test_with_maps_adds_a_map_folder(tmp_path):
    make_clip(tmp_path / "clips", "c", 3, masks=False)
    copy_frames(DOG / "masks", tmp_path / "sal" / "c", 3, suffix=".png")
    (clip,) = discover_clips(tmp_path / "clips")
    clip = with_maps(clip, "saliency", tmp_path / "sal" / "c")
    assert [p.name for p in clip.maps["saliency"]] == ["00000.png", "00001.png", "00002.png"]
    with pytest.raises(InputError, match="no saliency files"):
        with_maps(clip, "saliency", tmp_path / "sal" / "missing")


def test_prepare_demo_copies_frames_and_writes_manifest(tmp_path):
    cs = ClipSetConfig(source="demo", sequences=("dog", "car-shadow"), max_frames=6)
    out = tmp_path / "data" / "eval"
    manifest = prepare_clipset(cs, out)
    assert sorted(p.name for p in out.iterdir()) == ["car-shadow", "dog", "manifest.json"]
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["root"] == "datasets/demo/davis"
    assert manifest["clips"]["dog"]["frames"] == 6 and manifest["clips"]["dog"]["masks"] == 6
    src = discover_clips(DEMO_ROOT, sequences=["dog"], max_frames=6)[0]
    assert manifest["clips"]["dog"]["source_sha256"] == clip_sha256(src)
    for i in range(6):  # already at the working size: byte copies
        assert (out / "dog" / "frames" / f"{i:05d}.jpg").read_bytes() == src.frames[i].read_bytes()
        np.testing.assert_array_equal(
            read_mask(out / "dog" / "masks" / f"{i:05d}.png"), read_mask(src.maps["masks"][i])
        )
    # re-running replaces the folder atomically and leaves no temporaries
    prepare_clipset(cs, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["eval"]


def test_prepare_resizes_a_local_davis_folder(tmp_path):
    davis = tmp_path / "DAVIS"
    copy_frames(DOG / "frames", davis / "JPEGImages" / "480p" / "dog", 3)
    copy_frames(DOG / "masks", davis / "Annotations" / "480p" / "dog", 3, suffix=".png")
    cs = ClipSetConfig(source="davis2016_local", root=str(davis))
    out = tmp_path / "out"
    manifest = prepare_clipset(cs, out, size=(128, 224), interpolation="area")
    assert manifest["clips"]["dog"]["source_size"] == [256, 448]
    frame = read_rgb(out / "dog" / "frames" / "00001.png")
    expected = cv2.resize(
        read_rgb(davis / "JPEGImages" / "480p" / "dog" / "00001.jpg"), (224, 128), interpolation=cv2.INTER_AREA
    )
    np.testing.assert_array_equal(frame, expected)  # PNG: lossless
    mask = read_mask(out / "dog" / "masks" / "00001.png")
    assert mask.shape == (128, 224) and set(np.unique(mask)) == {0, 255}


def test_prepare_davis2017_split_from_a_local_copy(tmp_path):
    davis = tmp_path / "DAVIS"
    for seq in ("dog", "blackswan"):
        copy_frames(DEMO_ROOT / seq / "frames", davis / "JPEGImages" / "480p" / seq, 2)
        copy_frames(DEMO_ROOT / seq / "masks", davis / "Annotations" / "480p" / seq, 2, suffix=".png")
    (davis / "ImageSets" / "2017").mkdir(parents=True)
    (davis / "ImageSets" / "2017" / "val.txt").write_text("dog\n")
    (davis / "ImageSets" / "2017" / "train.txt").write_text("blackswan\n")
    manifest = prepare_clipset(ClipSetConfig(source="davis2017", root=str(davis), split="val"), tmp_path / "val")
    assert list(manifest["clips"]) == ["dog"]


def test_failed_prepare_leaves_nothing(tmp_path):
    clip = make_clip(tmp_path / "src", "c", 4)
    data = (clip / "frames" / "00002.jpg").read_bytes()
    (clip / "frames" / "00002.jpg").write_bytes(data[: len(data) // 3])  # header fine, pixels truncated
    out = tmp_path / "out" / "eval"
    with pytest.raises(InputError):
        prepare_clipset(ClipSetConfig(source="folder", root=str(tmp_path / "src")), out, size=(128, 224))
    assert list((tmp_path / "out").iterdir()) == []


def test_prepare_cli(tmp_path, monkeypatch):
    from svcnet.cli import main

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    out = tmp_path / "demo" / "eval"
    assert main(["prepare", "--split", "eval", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["blackswan", "car-shadow", "dog", "manifest.json"]
    assert main(["prepare", "--split", "test", "--out", str(out)]) == 2


def _davis2017_zip() -> bytes:
    """A DAVIS-2017-TrainVal-shaped zip of two demo clips (val: blackswan, train: dog), 2 frames each."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for seq in ("dog", "blackswan"):
            for i in range(2):
                zf.write(DEMO_ROOT / seq / "frames" / f"{i:05d}.jpg", f"DAVIS/JPEGImages/480p/{seq}/{i:05d}.jpg")
                zf.write(DEMO_ROOT / seq / "masks" / f"{i:05d}.png", f"DAVIS/Annotations/480p/{seq}/{i:05d}.png")
        zf.writestr("DAVIS/ImageSets/2017/val.txt", "blackswan\n")
        zf.writestr("DAVIS/ImageSets/2017/train.txt", "dog\n")
    return buf.getvalue()


@pytest.fixture
def davis2017_served(tmp_path, monkeypatch):
    """The registry's DAVIS 2017 entry pointed at a local HTTP server; yields (server, write_entry(sha256))."""
    import yaml
    from http_server import LocalHTTPServer, Route

    from svcnet.sources import REPO_SOURCES, SOURCES_ENV

    body = _davis2017_zip()
    entry = yaml.safe_load(REPO_SOURCES.read_text())["sources"]["davis2017_trainval_480p"]
    with LocalHTTPServer(lifetime=20) as srv:

        def write_entry(sha256: str) -> None:
            path = tmp_path / "sources.yaml"
            urls = [srv.add("/DAVIS-2017-trainval-480p.zip", Route(body))]
            path.write_text(
                yaml.safe_dump(
                    {
                        "version": 1,
                        "sources": {
                            "davis2017_trainval_480p": {**entry, "urls": urls, "sha256": sha256, "size": len(body)}
                        },
                    }
                )
            )
            monkeypatch.setenv(SOURCES_ENV, str(path))

        yield srv, body, write_entry


def test_davis2017_is_fetched_once_through_the_registry_and_unpacked(tmp_path, davis2017_served):
    """No `root:`: the zip is downloaded from the registry's URL, verified, unpacked, then reused by both splits."""
    import hashlib

    srv, body, write_entry = davis2017_served
    write_entry(hashlib.sha256(body).hexdigest())
    root = tmp_path / "root"
    val = prepare_clipset(ClipSetConfig(source="davis2017", split="val"), tmp_path / "val", fetch_root=root)
    train = prepare_clipset(ClipSetConfig(source="davis2017", split="train"), tmp_path / "train", fetch_root=root)
    assert list(val["clips"]) == ["blackswan"] and list(train["clips"]) == ["dog"]
    assert val["clips"]["blackswan"]["frames"] == 2 and val["clips"]["blackswan"]["masks"] == 2
    assert [q.path for q in srv.requests] == ["/DAVIS-2017-trainval-480p.zip"]  # the unpacked copy is reused
    assert (root / "resources/davis2017/DAVIS/JPEGImages/480p/dog/00001.jpg").is_file()
    assert (root / "resources/downloads/DAVIS-2017-trainval-480p.zip").read_bytes() == body


def test_davis2017_corrupt_download_is_refused_and_nothing_is_prepared(tmp_path, davis2017_served):
    from svcnet.errors import ChecksumError

    _, _body, write_entry = davis2017_served
    write_entry("0" * 64)
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match="0" * 64):
        prepare_clipset(ClipSetConfig(source="davis2017", split="val"), tmp_path / "val", fetch_root=root)
    assert not (tmp_path / "val").exists() and not (root / "resources/davis2017").exists()
