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
    assert summary["protocol"]["name"] == "svcnet" and summary["protocol"]["warp_mask"].startswith("reference: ")
    assert summary["test_sets"] == {"all": {**summary["means"], "frames": 8, "videos": 2}}
    assert summary["resolution"] == {"ground_truth": "as given", "frame_sizes": ["224x128"]}
    flat = json.loads((tmp_path / "m.json").read_text())
    assert flat["ssim"] == 1.0 and flat["method"] == "copy" and flat["test_sets"] == summary["test_sets"]
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
    # --warp-mask strict drops the pixels whose flow leaves the frame: a different warping error, same PSNR
    reference = summary["means"]["warp_error"]
    assert run("--pred", str(pred), "--gt", str(dataset / "gt"), "--out", str(out), "--warp-mask", "strict") == 0
    strict = json.loads((out / "summary.json").read_text())
    assert strict["options"]["warp_mask"] == "strict" and strict["means"]["warp_error"] != reference
    assert strict["means"]["psnr"] == summary["means"]["psnr"]
    assert run("--pred", str(pred), "--gt", str(dataset / "gt"), "--out", str(out), "--warp-mask", "loose") == 2
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


def test_test_sets_of_a_tagged_layout(dataset, tmp_path):
    """<tag>/<video>/ clip ids: per_video names them, summary.json and the metrics file carry each test set's
    frame-weighted means beside the overall ones."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    tags = {"blackswan": "DAVIS", "dog": "videvo"}
    rng = np.random.default_rng(2)
    expected: dict[str, list[float]] = {"DAVIS": [], "videvo": []}
    for clip, tag in tags.items():
        copy_tree(dataset / "gt" / clip, gt / tag / clip)
        for i, gt_file in enumerate(list_frames(gt / tag / clip / "frames")):
            truth = read_rgb(gt_file)
            spread = 10 * (i + 1) * (1 if tag == "DAVIS" else 3)
            noisy = np.clip(truth.astype(int) + rng.integers(-spread, spread + 1, truth.shape), 0, 255).astype(np.uint8)
            write_png(pred / tag / clip / "frames" / f"{gt_file.stem}.png", noisy)
            if i > 0:
                expected[tag].append(peak_signal_noise_ratio(truth, noisy))
    out = tmp_path / "res"
    assert run("--pred", str(pred), "--gt", str(gt), "--out", str(out), "--metrics", str(tmp_path / "m.json")) == 0
    assert [r["video"] for r in rows(out / "per_video.csv")] == ["DAVIS/blackswan", "videvo/dog"]
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["test_sets"]) == ["DAVIS", "videvo"]
    for tag, values in expected.items():
        sets = summary["test_sets"][tag]
        assert sets["frames"] == 4 and sets["videos"] == 1
        assert sets["psnr"] == pytest.approx(np.mean(values), abs=1e-9)
    assert summary["means"]["psnr"] == pytest.approx(np.mean(expected["DAVIS"] + expected["videvo"]), abs=1e-9)
    assert json.loads((tmp_path / "m.json").read_text())["test_sets"] == summary["test_sets"]


def test_original_resolution_protocol_end_to_end(tmp_path, monkeypatch):
    """data.eval.keep_size: prepare keeps the original size, GCS scribbles are made at the working size from it, the
    baselines write original-size frames, and evaluate scores psnr/ssim there and *_256p on bilinear 448x256 copies."""
    from svcnet.config import ClipSetConfig
    from svcnet.data.prepare import prepare_clipset
    from svcnet.evaluate.baseline import BaselineRequest, run_baseline
    from svcnet.evaluate.runner import EvaluateOptions, evaluate_folders
    from svcnet.scribbles.flow import dis_estimator
    from svcnet.scribbles.generate import EvalScribbleSettings
    from svcnet.scribbles.run import run_scribbles

    monkeypatch.setenv("SVCNET_WEIGHTS", str(tmp_path / "no-weights"))
    src = tmp_path / "src" / "dog"
    src.mkdir(parents=True)
    for f in list_frames(DEMO / "dog" / "frames")[:5]:  # an "original" 520x300 clip
        write_png(src / f"{f.stem}.png", cv2.resize(read_rgb(f), (520, 300), interpolation=cv2.INTER_CUBIC))
    data = tmp_path / "eval"
    manifest = prepare_clipset(ClipSetConfig(source="folder", root=str(tmp_path / "src"), keep_size=True), data)
    assert manifest["keep_size"] is True and manifest["clips"]["dog"]["source_size"] == [300, 520]
    frames = list_frames(data / "dog" / "frames")
    assert all(read_rgb(f).shape == (300, 520, 3) for f in frames)
    assert np.array_equal(read_rgb(frames[2]), read_rgb(src / "00002.png"))
    scr = tmp_path / "scribbles"
    run_scribbles(data, scr, EvalScribbleSettings(protocol="gcs"), dis_estimator())
    assert read_rgb(scr / "gt" / "dog" / "00000_256p.png").shape == (256, 448, 3)
    preds = {}
    for method in ("gray", "levin"):
        preds[method] = tmp_path / method
        request = BaselineRequest(
            method, str(data / "dog" / "frames"), str(scr / "gt" / "dog") if method == "levin" else None, max_frames=2
        )
        run_baseline(request, preds[method] / "dog", progress=False)
        assert read_rgb(preds[method] / "dog" / "frames" / "00001.png").shape == (300, 520, 3)
    truth = [read_rgb(f) for f in frames[:2]]
    (tmp_path / "gt2" / "dog" / "frames").mkdir(parents=True)  # the two frames the baselines wrote
    for f in frames[:2]:
        write_png(tmp_path / "gt2" / "dog" / "frames" / f.name, read_rgb(f))
    (tmp_path / "gt2" / "manifest.json").write_text((data / "manifest.json").read_text())
    summary = evaluate_folders(preds["levin"], tmp_path / "gt2", tmp_path / "res", EvaluateOptions(lpips=False))
    assert summary["resolution"] == {"ground_truth": "original", "frame_sizes": ["520x300"]}
    out = read_rgb(preds["levin"] / "dog" / "frames" / "00001.png")
    assert summary["means"]["psnr"] == pytest.approx(peak_signal_noise_ratio(truth[1], out), abs=1e-9)
    small = [cv2.resize(x, (448, 256), interpolation=cv2.INTER_LINEAR) for x in (truth[1], out)]
    assert summary["means"]["psnr_256p"] == pytest.approx(peak_signal_noise_ratio(*small), abs=1e-9)
    assert summary["means"]["psnr"] != pytest.approx(summary["means"]["psnr_256p"], abs=1e-3)
