"""Baselines: Levin et al. (2004) colourisation by optimisation and the grayscale input; ``svcnet baseline``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skimage.color import rgb2yiq
from skimage.metrics import peak_signal_noise_ratio

from svcnet.cli import main
from svcnet.data.frames import list_frames, read_rgb, write_png
from svcnet.evaluate.levin import affinities, gray_frame, levin_colorize, nested_dissection_order, solve_chrominance

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"


def small_frame(clip: str = "dog", i: int = 0) -> np.ndarray:
    return cv2.resize(read_rgb(list_frames(DEMO / clip / "frames")[i]), (224, 128), interpolation=cv2.INTER_AREA)


def gt_scribble(frame: np.ndarray, n: int = 60, size: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    marked = np.zeros(frame.shape[:2], bool)
    for _ in range(n):
        y, x = rng.integers(0, frame.shape[0] - size), rng.integers(0, frame.shape[1] - size)
        marked[y : y + size, x : x + size] = True
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
    args = [
        "baseline",
        str(clip / "frames"),
        "--method",
        "levin",
        "--scribbles",
        str(clip / "scribbles"),
        "--out",
        str(out),
        "--quiet",
        "--no-video",
    ]
    assert main(args) == 0
    names = sorted(p.name for p in (out / "frames").iterdir())
    assert names == ["00000.png", "00001.png", "00002.png"]
    meta = json.loads((out / "metadata.json").read_text())
    assert (
        meta["tool"] == "svcnet baseline"
        and meta["method"] == "levin"
        and meta["frames"] == ["00000", "00001", "00002"]
    )
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


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "needs --scribbles"),
        (["--scribbles", "SINGLE"], "one scribble per frame"),
        (["--method", "pix2pix"], "unknown baseline"),
    ],
)
def test_baseline_cli_errors(clip, tmp_path, capsys, extra, message):
    extra = [str(clip / "scribbles" / "00000_256p.png") if e == "SINGLE" else e for e in extra]
    args = ["baseline", str(clip / "frames"), "--out", str(tmp_path / "o"), "-q"]
    args += extra if "--method" in extra else ["--method", "levin", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------- solver vs the definition
def scribbles_from(gt: np.ndarray, n: int, seed: int = 0, size: int = 4) -> np.ndarray:
    """``n`` coloured size×size squares holding the mean colour of the ground truth there (black elsewhere)."""
    rng = np.random.default_rng(seed)
    s = np.zeros_like(gt)
    for _ in range(n):
        y, x = rng.integers(0, gt.shape[0] - size), rng.integers(0, gt.shape[1] - size)
        colour = gt[y : y + size, x : x + size].reshape(-1, 3).mean(0).round().astype(np.uint8)
        s[y : y + size, x : x + size] = np.maximum(colour, 1)  # never pure black (= no scribble)
    return s


def reference_chrominance(y: np.ndarray, marked: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The paper's system written pixel by pixel (3×3 windows, population variance), solved in float64."""
    h, w = y.shape
    n = h * w
    a = sp.lil_matrix((n, n))
    for r in range(h):
        for c in range(w):
            i = r * w + c
            a[i, i] = 1.0
            if marked[r, c]:
                continue
            nbs = [
                (rr, cc)
                for rr in range(r - 1, r + 2)
                for cc in range(c - 1, c + 2)
                if 0 <= rr < h and 0 <= cc < w and (rr, cc) != (r, c)
            ]
            window = np.array([y[r, c]] + [y[p] for p in nbs])
            d2 = np.array([(y[p] - y[r, c]) ** 2 for p in nbs])
            s2 = max(0.6 * window.var(), d2.min() / np.log(100.0), 2e-6)
            wts = np.exp(-d2 / s2)
            for (rr, cc), wt in zip(nbs, wts / wts.sum()):
                a[i, rr * w + cc] = -wt
    rhs = np.zeros((n, values.shape[-1]))
    rhs[marked.ravel()] = values[marked]
    return spla.spsolve(a.tocsc(), rhs).reshape(h, w, -1)


def test_matches_the_definition_on_a_real_crop():
    img = read_rgb(list_frames(DEMO / "blackswan" / "frames")[0])[100:124, 180:212]
    s = scribbles_from(img, 4, seed=1, size=3)
    y = rgb2yiq(img)[..., 0]
    marked = s.max(-1) > 0
    values = rgb2yiq(s)[..., 1:]
    ours = solve_chrominance(y, marked, values)
    ref = reference_chrominance(y, marked, values)
    assert np.abs(ours - ref).max() < 5e-4  # float32 LU and the 2^-23 screening term
    assert np.allclose(ours[marked], values[marked], atol=1e-5)


def test_affinities_sum_to_one_and_vanish_outside():
    w = affinities(rgb2yiq(read_rgb(list_frames(DEMO / "dog" / "frames")[0]))[..., 0])
    assert w.shape == (8, 256, 448)
    assert np.allclose(w.sum(0), 1.0)
    assert np.all(w[:3, 0] == 0) and np.all(w[[0, 3, 5], :, 0] == 0)  # neighbours above row 0 / left of column 0


def test_nested_dissection_order_is_a_permutation():
    order = nested_dissection_order(37, 53)
    assert np.array_equal(np.sort(order), np.arange(37 * 53))


def test_one_colour_spreads_everywhere_and_no_scribble_is_gray():
    gt = read_rgb(list_frames(DEMO / "car-shadow" / "frames")[0])[:64, :96]
    marked = np.zeros(gt.shape[:2], bool)
    marked[10:14, 10:14] = marked[50:54, 80:84] = True
    values = np.broadcast_to(np.array([0.3, -0.1]), (*gt.shape[:2], 2))
    chroma = solve_chrominance(rgb2yiq(gt)[..., 0], marked, values)
    assert np.abs(chroma - values).max() < 3e-3  # rows sum to one: a constant solves the system (float32)
    assert np.array_equal(levin_colorize(gt, np.zeros_like(gt)), gray_frame(gt))
