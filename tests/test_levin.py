"""Baselines: Levin et al. (2004) colourisation by optimisation and the grayscale input; ``svcnet baseline``."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from svcnet.cli import main
from svcnet.data.frames import list_frames, read_rgb, write_png
from svcnet.evaluate.levin import gray_frame, levin_colorize

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"


def small_frame(clip: str = "dog", i: int = 0) -> np.ndarray:
    return cv2.resize(read_rgb(list_frames(DEMO / clip / "frames")[i]), (224, 128), interpolation=cv2.INTER_AREA)


def gt_scribble(frame: np.ndarray, n: int = 60, size: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    marked = np.zeros(frame.shape[:2], bool)
    for _ in range(n):
        y, x = rng.integers(0, frame.shape[0] - size), rng.integers(0, frame.shape[1] - size)
        marked[y:y + size, x:x + size] = True
    s = np.where(marked[..., None], np.maximum(frame, 1), 0).astype(np.uint8)  # scribble pixels never pure black
    return s


def test_no_scribble_gives_the_gray_frame():
    f = small_frame()
    out = levin_colorize(f, np.zeros_like(f))
    assert np.array_equal(out, gray_frame(f))
    assert np.all(out[..., 0] == out[..., 1]) and np.all(out[..., 1] == out[..., 2])


def test_scribble_colour_propagates_within_regions_not_across_edges():
    gray = np.full((40, 60, 3), 60, np.uint8)
    gray[:, 30:] = 200  # two flat regions, a strong edge between them
    s = np.zeros_like(gray)
    s[5:8, 5:8] = (200, 40, 40)  # red on the left
    s[30:33, 50:53] = (40, 40, 200)  # blue on the right
    out = levin_colorize(gray, s).astype(int)
    left, right = out[:, :28], out[:, 32:]
    assert np.all(left[..., 0] > left[..., 2])  # left stays reddish everywhere
    assert np.all(right[..., 2] > right[..., 0])  # right stays bluish everywhere
    # the luminance of the input is kept (where no RGB channel had to be clipped)
    yiq_y = gray_frame(levin_colorize(gray, s))[..., 0].astype(int)
    assert np.abs(yiq_y[:, :28] - gray[:, :28, 0]).max() <= 2


def test_levin_beats_gray_on_a_real_frame():
    f = small_frame()
    out = levin_colorize(f, gt_scribble(f))
    assert peak_signal_noise_ratio(f, out) > peak_signal_noise_ratio(f, gray_frame(f)) + 4


def test_levin_rejects_mismatched_sizes():
    from svcnet.errors import InputError

    with pytest.raises(InputError):
        levin_colorize(small_frame(), np.zeros((10, 10, 3), np.uint8))


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clip")
    for i in range(3):
        f = small_frame("car-shadow", i)
        write_png(root / "frames" / f"{i:05d}.png", f)
        write_png(root / "scribbles" / f"{i:05d}_256p.png", gt_scribble(f, seed=i))
    return root


def test_baseline_cli_levin_and_gray(clip, tmp_path, capsys):
    out = tmp_path / "levin"
    args = ["baseline", str(clip / "frames"), "--method", "levin", "--scribbles", str(clip / "scribbles"),
            "--out", str(out), "--quiet", "--no-video"]
    assert main(args) == 0
    names = sorted(p.name for p in (out / "frames").iterdir())
    assert names == ["00000.png", "00001.png", "00002.png"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["tool"] == "svcnet baseline" and meta["method"] == "levin" and meta["frames"] == ["00000", "00001",
                                                                                                   "00002"]
    first = read_rgb(out / "frames" / "00000.png")
    f0 = read_rgb(clip / "frames" / "00000.png")
    assert peak_signal_noise_ratio(f0, first) > peak_signal_noise_ratio(f0, gray_frame(f0)) + 4
    # a finished run is skipped
    stamp = (out / "frames" / "00000.png").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "frames" / "00000.png").stat().st_mtime_ns == stamp
    gray = tmp_path / "gray"
    assert main(["baseline", str(clip / "frames"), "--method", "gray", "--out", str(gray), "-q", "--no-video"]) == 0
    assert np.array_equal(read_rgb(gray / "frames" / "00001.png"), gray_frame(read_rgb(clip / "frames" / "00001.png")))


@pytest.mark.parametrize("extra, message", [
    ([], "needs --scribbles"),
    (["--scribbles", "SINGLE"], "one scribble per frame"),
    (["--method", "pix2pix"], "unknown baseline"),
])
def test_baseline_cli_errors(clip, tmp_path, capsys, extra, message):
    extra = [str(clip / "scribbles" / "00000_256p.png") if e == "SINGLE" else e for e in extra]
    args = ["baseline", str(clip / "frames"), "--out", str(tmp_path / "o"), "-q"]
    args += extra if "--method" in extra else ["--method", "levin", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
