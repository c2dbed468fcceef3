"""``svcnet evaluate`` on small real clips: layouts, outputs, protocol means and clear errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from svcnet.cli import main
from svcnet.data.frames import list_frames, read_rgb, write_png

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"
CLIPS = ("blackswan", "dog")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """GT as <clip>/frames/*.jpg (5 frames, 224x128); prediction = the decoded GT as <clip>/*.png."""
    root = tmp_path_factory.mktemp("eval")
    for clip in CLIPS:
        (root / "gt" / clip / "frames").mkdir(parents=True)
        for src in list_frames(DEMO / clip / "frames")[:5]:
            small = cv2.resize(cv2.imread(str(src)), (224, 128), interpolation=cv2.INTER_AREA)
            dst = root / "gt" / clip / "frames" / src.name
            cv2.imwrite(str(dst), small)
            write_png(root / "pred" / clip / f"{src.stem}.png", read_rgb(dst))
    (root / "gt" / "manifest.json").write_text("{}")  # files beside the clips are ignored
    return root


def run(*args: str) -> int:
    return main(["evaluate", "--quiet", *args])


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_identical_videos(dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SVCNET_WEIGHTS", str(tmp_path / "no-weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch-home"))
    out = tmp_path / "res"
    assert (
        run(
            "--pred",
            str(dataset / "pred"),
            "--gt",
            str(dataset / "gt"),
            "--out",
            str(out),
            "--metrics",
            str(tmp_path / "m.json"),
            "--method",
            "copy",
        )
        == 0
    )
    per_video = rows(out / "per_video.csv")
    assert list(per_video[0]) == [
        "video",
        "frames",
        "psnr",
        "ssim",
        "psnr_lab",
        "ssim_lab",
        "lpips",
        "warp_error",
        "cdc",
        "psnr_256p",
        "ssim_256p",
    ]
    assert [r["video"] for r in per_video] == list(CLIPS)
    for r in per_video:
        assert r["frames"] == "4"  # first frame excluded
        assert r["psnr"] == "inf" and r["ssim"] == "1" and r["psnr_lab"] == "inf" and r["ssim_256p"] == "1"
        assert r["lpips"] == "n/a"
        assert 0 <= float(r["warp_error"]) < 5e-3 and float(r["cdc"]) >= 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "copy" and summary["dataset"] == "gt"
    assert summary["frames"] == 8 and summary["videos"] == 2
    assert summary["means"]["psnr"] == "inf" and summary["means"]["ssim"] == 1.0 and summary["means"]["lpips"] is None
    assert "alexnet-owt-7be5be79.pth" in summary["not_available"]["lpips"]
    assert summary["flow"]["backend"] == "opencv-dis" and "first_frame" in summary["protocol"]
    assert {"torch", "scikit-image", "opencv", "svcnet"} <= set(summary["versions"])
    flat = json.loads((tmp_path / "m.json").read_text())
    assert flat["ssim"] == 1.0 and flat["method"] == "copy"
    assert len(rows(out / "per_frame.csv")) == 8
    printed = capsys.readouterr().out
    assert "lpips: n/a" in printed


def test_means_are_frame_weighted_and_match_skimage(dataset, tmp_path):
    pred = tmp_path / "pred"
    rng = np.random.default_rng(1)
    expected = []
    for clip in CLIPS:
        for i, gt_file in enumerate(list_frames(dataset / "gt" / clip / "frames")):
            gt = read_rgb(gt_file)
            noisy = np.clip(gt.astype(int) + rng.integers(-20 * (i + 1), 20 * (i + 1) + 1, gt.shape), 0, 255)
            noisy = noisy.astype(np.uint8)
            write_png(pred / clip / "frames" / f"{gt_file.stem}.png", noisy)
            if i > 0:
                expected.append(peak_signal_noise_ratio(gt, noisy))
    out = tmp_path / "res"
    assert run("--pred", str(pred), "--gt", str(dataset / "gt"), "--out", str(out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["means"]["psnr"] == pytest.approx(np.mean(expected), abs=1e-9)
    assert summary["method"] == "pred"
    assert 0 < summary["means"]["ssim"] < 1 and math.isfinite(summary["means"]["psnr_lab"])
    # --include-first scores the first frame too
    assert run("--pred", str(pred), "--gt", str(dataset / "gt"), "--out", str(out), "--include-first") == 0
    assert json.loads((out / "summary.json").read_text())["frames"] == 10


def copy_tree(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("case", ["missing_frame", "extra_frame", "size", "missing_video", "extra_video"])
def test_layout_errors_name_the_file(dataset, tmp_path, capsys, case):
    pred = copy_tree(dataset / "pred", tmp_path / "pred")
    if case == "missing_frame":
        (pred / "dog" / "00002.png").unlink()
        needle = str(pred / "dog" / "00002.png")
    elif case == "extra_frame":
        write_png(pred / "dog" / "00099.png", np.zeros((128, 224, 3), np.uint8))
        needle = str(pred / "dog" / "00099.png")
    elif case == "size":
        write_png(pred / "dog" / "00001.png", np.zeros((100, 224, 3), np.uint8))
        needle = str(pred / "dog" / "00001.png")
    elif case == "missing_video":
        import shutil

        shutil.rmtree(pred / "dog")
        needle = "dog"
    else:
        write_png(pred / "cat" / "00000.png", np.zeros((128, 224, 3), np.uint8))
        needle = str(pred / "cat")
    out = tmp_path / "res"
    assert run("--pred", str(pred), "--gt", str(dataset / "gt"), "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("svcnet: error:") and needle in err and "\n" not in err
    assert not out.exists()  # nothing half-written
