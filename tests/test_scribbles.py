"""Evaluation scribbles: flow carry on a clip with a known motion, seeds, geometry, styles, the official format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from svcnet.cli import main
from svcnet.data.frames import encode_png, read_rgb
from svcnet.errors import InputError
from svcnet.scribbles.carry import carry_points, occluded_at
from svcnet.scribbles.fileformat import list_scribbles, match_scribbles, read_scribble, write_scribble_clip
from svcnet.scribbles.flow import FlowEstimator, dis_estimator, pwc_estimator
from svcnet.scribbles.generate import EvalScribbleSettings, generate_scribbles
from svcnet.scribbles.squares import paint_squares, scribble_blobs, widen_official
from svcnet.scribbles.styles import map_values, recolour_image

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "datasets" / "demo" / "davis"
STEP = np.array([3, 2])  # the camera window moves (dx, dy) per frame, so content moves by -STEP
H, W = 256, 448


@pytest.fixture(scope="module")
def moving_clip() -> list[np.ndarray]:
    """Six 448x256 crops of the astronaut photograph, the window shifted by STEP each frame."""
    big = cv2.resize(data.astronaut(), (600, 400), interpolation=cv2.INTER_AREA)
    return [
        np.ascontiguousarray(big[10 + t * STEP[1] : 10 + t * STEP[1] + H, 10 + t * STEP[0] : 10 + t * STEP[0] + W])
        for t in range(6)
    ]


@pytest.fixture(scope="module")
def carried(moving_clip):
    return generate_scribbles(moving_clip, EvalScribbleSettings(seed=3), dis_estimator())


def test_carried_squares_land_within_one_pixel_and_keep_their_colours(carried, moving_clip):
    start = {(p["x"], p["y"]): tuple(p["rgb"]) for p in carried.first_points}
    assert len(carried.first_points) == 40
    for t, img in enumerate(carried.images):
        expected = [(np.array(xy) - t * STEP, rgb) for xy, rgb in start.items()]
        inside = [(xy, rgb) for xy, rgb in expected if 0 <= xy[0] < W and 0 <= xy[1] < H]
        # points that leave the frame are dropped; DIS is less reliable at the border, where the forward-backward
        # check may drop a point early
        assert len(inside) - 2 <= carried.alive[t] <= len(inside)
        blobs = [b for b in scribble_blobs(img) if b.pixels == 16]
        assert len(blobs) >= len(inside) - 4  # a few squares overlap and merge
        for b in blobs:  # each whole square sits within 1 px of a point of the same colour
            centre = np.array([b.left + 2, b.top + 2])
            assert min(np.abs(centre - xy).max() for xy, rgb in inside if rgb == b.colour) <= 1
    assert carried.alive[-1] < 40 and sum(carried.dropped) == 40 - carried.alive[-1]


def test_first_frame_points_take_the_ground_truth_colour_in_4x4_squares(carried, moving_clip):
    frame = moving_clip[0]
    img = carried.images[0]
    for p in carried.first_points:
        assert 2 <= p["y"] <= H - 2 and 2 <= p["x"] <= W - 2
        want = frame[p["y"], p["x"]]
        assert tuple(p["rgb"]) == tuple(np.where(want.any(), want, 1))
    last = carried.first_points[-1]  # painted last, so its whole square is visible
    assert (img[last["y"] - 2 : last["y"] + 2, last["x"] - 2 : last["x"] + 2] == last["rgb"]).all()
    assert img.any(axis=2).sum() <= 40 * 16


def test_same_seed_same_scribbles_other_seed_different(moving_clip):
    frames = moving_clip[:3]
    a = generate_scribbles(frames, EvalScribbleSettings(seed=7), dis_estimator())
    b = generate_scribbles(frames, EvalScribbleSettings(seed=7), dis_estimator())
    c = generate_scribbles(frames, EvalScribbleSettings(seed=8), dis_estimator())
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
    assert all(not np.array_equal(x, y) for x, y in zip(a.images, c.images))


def test_reseeding_keeps_the_point_count(moving_clip):
    exact = FlowEstimator("shift", lambda a, b: np.broadcast_to(-STEP.astype(np.float32), (*a.shape[:2], 2)))
    res = generate_scribbles(moving_clip, EvalScribbleSettings(seed=3, reseed=True, occlusion_check=False), exact)
    assert res.alive == [40] * 6 and sum(res.reseeded) == sum(res.dropped) > 0


def test_any_flow_backend_plugs_in(moving_clip):
    """An exact translation backend: every carried square is exactly where the motion puts it."""
    exact = FlowEstimator("shift", lambda a, b: np.broadcast_to(-STEP.astype(np.float32), (*a.shape[:2], 2)))
    res = generate_scribbles(moving_clip, EvalScribbleSettings(seed=5, width=1, occlusion_check=False), exact)
    for t, img in enumerate(res.images):
        for p in res.first_points:
            x, y = p["x"] - t * STEP[0], p["y"] - t * STEP[1]
            if 0 <= x < W and 0 <= y < H:
                assert img[y, x].any()


def test_pwcnet_backend_shape():
    import torch

    from svcnet.models.pwcnet import PWCNet

    torch.manual_seed(0)
    est = pwc_estimator(PWCNet().eval())
    img = cv2.resize(data.coffee(), (96, 64), interpolation=cv2.INTER_AREA)
    flow = est(img, np.roll(img, 2, axis=1))
    assert flow.shape == (64, 96, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()


def test_point_occlusion_check_equals_the_dense_mask():
    import torch

    from svcnet.ops.occlusion import occlusion_mask

    a, b = read_rgb(DEMO / "dog" / "frames" / "00010.jpg"), read_rgb(DEMO / "dog" / "frames" / "00011.jpg")
    est = dis_estimator()
    fw, bw = est(a, b), est(b, a)
    dense = (
        occlusion_mask(
            torch.from_numpy(bw).permute(2, 0, 1)[None].double(), torch.from_numpy(fw).permute(2, 0, 1)[None].double()
        )[0, 0].numpy()
        > 0.5
    )
    ys, xs = np.mgrid[0:H:3, 0:W:3]
    xy = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    points = occluded_at(xy, fw, bw, tolerance=np.sqrt(0.5))
    assert 0 < points.sum() < len(points)
    assert (points == dense[ys.ravel(), xs.ravel()]).mean() > 0.999  # float rounding at the threshold only


def test_points_leaving_the_frame_are_dropped():
    flow = np.zeros((10, 20, 2), np.float32)
    flow[..., 0] = 3.0
    xy = np.array([[2.0, 5.0], [16.0, 5.0], [17.0, 5.0]])
    moved, keep = carry_points(xy, flow, None, (10, 20))
    assert moved[:, 0].tolist() == [5.0, 19.0, 20.0] and keep.tolist() == [True, True, False]


def test_square_geometry_and_official_widen():
    img = paint_squares((8, 8), np.array([[0, 0], [4, 4], [5, 5]]), np.array([[9, 9, 9], [1, 2, 3], [4, 5, 6]]), 5)
    assert (img[0:2, 0:2] == 9).all()  # [-2, 2) clipped at the border
    assert img[2, 2].tolist() == [1, 2, 3] and (img[3:7, 3:7] == [4, 5, 6]).all()  # the later point overwrites
    assert img.any(axis=2).sum() == 4 + 16 + 16 - 9 and (img == 1).all(axis=2).sum() == 0
    assert (img == [1, 2, 3]).all(axis=2).sum() == 7
    pts = np.zeros((256, 448, 3), np.uint8)
    pts[1, 50] = pts[10, 10] = pts[255, 447] = 200
    wide = widen_official(pts)
    assert wide.any(axis=2).sum() == 16 + 9  # row 1: negative slice start, nothing painted
    assert wide[8:12, 8:12].all() and wide[253:256, 445:448].all()


def test_diverse_styles_follow_the_official_mapping():
    x = np.array([0, 1, 100, 128, 129, 148, 149, 200, 255], np.uint8)
    assert map_values(x, "diverse1").tolist() == [255, 254, 155, 127, 126, 107, 106, 55, 0]
    assert map_values(x, "diverse2").tolist() == [128, 127, 28, 0, 255, 236, 235, 184, 129]  # uint8 wrap
    assert map_values(x, "diverse3").tolist() == [0, 0, 50, 64, 64, 74, 74, 100, 127]
    assert map_values(x, "diverse4").tolist() == [0, 0, 151, 209, 211, 254, 0, 121, 5]  # overflow from 149 on
    img = np.zeros((2, 2, 3), np.uint8)
    img[0, 0] = (10, 0, 200)
    out = recolour_image(img, "diverse1")
    assert out[0, 0].tolist() == [245, 255, 55] and not out[1].any() and not out[0, 1].any()
    with pytest.raises(InputError, match="unknown scribble style"):
        map_values(x, "pastel")


def test_writer_and_reader_round_trip(tmp_path):
    imgs = [np.full((256, 448, 3), v, np.uint8) for v in (1, 2, 3)]
    write_scribble_clip(tmp_path / "clip", ["10", "2", "1"], imgs, {"note": "x"})
    files = list_scribbles(tmp_path / "clip")
    assert list(files) == ["1", "2", "10"] and files["2"].name == "2_256p.png"
    assert read_scribble(files["10"], (256, 448))[0, 0].tolist() == [1, 1, 1]
    assert json.loads((tmp_path / "clip" / "metadata.json").read_text()) == {"note": "x"}
    with pytest.raises(InputError, match="4 frames: none for frame '3'"):
        match_scribbles(files, ["1", "2", "3", "10"])
    with pytest.raises(InputError, match="3 scribbles for 2 frames: 10_256p.png has no frame"):
        match_scribbles(files, ["1", "2"])  # more scribbles than frames
    with pytest.raises(InputError, match="expected 64x32"):
        read_scribble(files["1"], (32, 64))
    with pytest.raises(InputError, match="no scribble files"):
        list_scribbles(tmp_path / "clip", height=480)


@pytest.mark.realdata
def test_reader_handles_the_official_demo_scribbles(realdata_dir):
    root = realdata_dir / "legacy_film"
    if not (root / "scribbles_diverse1").is_dir():
        pytest.skip("legacy_film scribbles not present")
    frames = sorted((p.stem for p in (root / "frames").glob("*.jpg")), key=int)
    first_pixels, first_colours, last_pixels = [], [], []
    for style in range(1, 5):
        files = list_scribbles(root / f"scribbles_diverse{style}")
        assert list(files) == [str(n) for n in range(37666, 37995)]  # numeric order, 329 frames
        paths = match_scribbles(files, frames)
        first, last = read_scribble(paths[0], (256, 448)), read_scribble(paths[-1], (256, 448))
        first_pixels.append(int(first.any(axis=2).sum()))
        first_colours.append(len({b.colour for b in scribble_blobs(first)}))
        last_pixels.append(int(last.any(axis=2).sum()))
        if style in (2, 3):
            assert {(b.height, b.width, b.pixels) for b in scribble_blobs(first)} == {(4, 4, 16)}
    assert first_pixels == [638, 640, 640, 624] and first_colours == [40, 40, 40, 38]
    assert last_pixels == [144, 23, 0, 87]


def _clip(tmp_path: Path, n: int = 4, name: str = "dog") -> Path:
    dest = tmp_path / "clips" / name / "frames"
    dest.mkdir(parents=True)
    for i in range(n):
        shutil.copy(DEMO / name / "frames" / f"{i:05d}.jpg", dest)
    return tmp_path / "clips"


def test_cli_writes_the_official_layout_and_resumes(tmp_path, capsys):
    clips = _clip(tmp_path)
    out = tmp_path / "scribbles"
    args = [
        "scribbles",
        str(clips),
        "--out",
        str(out),
        "--style",
        "gt",
        "--style",
        "diverse3",
        "--seed",
        "1",
        "--config",
        str(REPO / "config" / "config.yaml"),
        "--profile",
        "demo",
    ]
    assert main(args) == 0
    for style in ("gt", "diverse3"):
        folder = out / style / "dog"
        assert sorted(p.name for p in folder.iterdir()) == [f"0000{i}_256p.png" for i in range(4)] + ["metadata.json"]
        meta = json.loads((folder / "metadata.json").read_text())
        assert meta["style"] == style and meta["reseed"] is False and meta["settings"]["flow"] == "dis-medium"
        assert meta["dropped_points"] == "not replaced" and meta["points_per_frame"][0] == 40
        assert meta["settings"]["seed"] == 1 and meta["settings"]["occlusion_tolerance"] == 1.5  # CLI over config
    gt, d3 = read_rgb(out / "gt" / "dog" / "00000_256p.png"), read_rgb(out / "diverse3" / "dog" / "00000_256p.png")
    assert np.array_equal(
        recolour_image(gt, "diverse3")
        | (gt.any(axis=2, keepdims=True) & ~recolour_image(gt, "diverse3").any(axis=2, keepdims=True)).astype(np.uint8),
        d3,
    )  # same points, colours x // 2
    before = (out / "gt" / "dog" / "00003_256p.png").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out
    assert (out / "gt" / "dog" / "00003_256p.png").stat().st_mtime_ns == before


def test_bad_input_gives_one_clear_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    (tmp_path / "empty" / "frames").mkdir(parents=True)
    assert main(["scribbles", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "no image frames" in capsys.readouterr().err
    clips = _clip(tmp_path, 3)
    (clips / "dog" / "frames" / "00001.jpg").write_bytes(b"not a jpeg")
    assert main(["scribbles", str(clips), "--out", str(out)]) == 2
    assert "00001.jpg" in capsys.readouterr().err
    (clips / "dog" / "frames" / "00001.jpg").write_bytes(encode_png(np.zeros((100, 100, 3), np.uint8)))
    assert main(["scribbles", str(clips), "--out", str(out)]) == 2
    assert "same size" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(InputError, match="at least 1"):
        generate_scribbles([np.zeros((256, 448, 3), np.uint8)], EvalScribbleSettings(points=0), None)
    with pytest.raises(InputError, match="no frames"):
        generate_scribbles([], EvalScribbleSettings(), None)


# ---------------------------------------------------------------------------------------- protocol gcs (official)
def _official_nearest_warp(points: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """GCS's PWCNetBackward on a float map, transcribed: nearest source pixel of p + flow(p), zero outside."""
    h, w = points.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    qx, qy = np.rint(xs + flow[..., 0]).astype(int), np.rint(ys + flow[..., 1]).astype(int)
    inside = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
    out = np.zeros_like(points)
    out[inside] = points[qy[inside], qx[inside]]
    return out


def _frames_at_original_size(n: int, name: str = "dog") -> list[np.ndarray]:
    """Demo frames brought to an 'original' 854x480, so the scribbles must resize them (INTER_CUBIC) first."""
    return [
        cv2.resize(read_rgb(DEMO / name / "frames" / f"{i:05d}.jpg"), (854, 480), interpolation=cv2.INTER_CUBIC)
        for i in range(n)
    ]


def test_gcs_first_frame_is_the_official_draw_widened():
    frames = _frames_at_original_size(1)
    work = cv2.resize(frames[0], (W, H), interpolation=cv2.INTER_CUBIC)
    rs = np.random.RandomState(7)
    expected = np.zeros_like(work)
    for _ in range(40):
        y = rs.randint(1, H - 1)
        x = rs.randint(1, W - 1)
        expected[y, x] = work[y, x]
    res = generate_scribbles(frames, EvalScribbleSettings(seed=7, protocol="gcs"), None)
    assert np.array_equal(res.images[0], widen_official(expected, 5))
    assert res.alive == [int(expected.any(axis=2).sum())]
    assert {(p["y"], p["x"]) for p in res.first_points} == set(zip(*np.nonzero(expected.any(axis=2))))
    d1 = generate_scribbles(frames, EvalScribbleSettings(seed=7, protocol="gcs", style="diverse1"), None)
    assert np.array_equal(d1.images[0], recolour_image(widen_official(expected, 5), "diverse1"))


def test_gcs_carries_the_point_map_with_nearest_zero_padded_warps():
    frames = [read_rgb(DEMO / "dog" / "frames" / f"{i:05d}.jpg") for i in range(4)]
    shift = FlowEstimator("shift", lambda a, b: np.dstack([np.full(a.shape[:2], 20.6), np.full(a.shape[:2], -3.4)]))
    res = generate_scribbles(frames, EvalScribbleSettings(seed=3, protocol="gcs"), shift)
    rs = np.random.RandomState(3)
    point_map = np.zeros_like(frames[0])
    for _ in range(40):
        y, x = rs.randint(1, H - 1), rs.randint(1, W - 1)
        point_map[y, x] = frames[0][y, x]
    for t in range(1, 4):  # the map moves by (-21, +3) per frame; points whose source leaves the frame vanish
        moved = np.zeros_like(point_map)
        moved[3:, : W - 21] = point_map[:-3, 21:]
        point_map = moved
        assert np.array_equal(res.images[t], widen_official(point_map, 5))
    assert res.alive[-1] < res.alive[0]


def test_gcs_with_real_flow_equals_the_transcribed_official_loop():
    frames = [read_rgb(DEMO / "car-shadow" / "frames" / f"{i:05d}.jpg") for i in range(5)]
    flow = dis_estimator()
    res = generate_scribbles(frames, EvalScribbleSettings(seed=0, protocol="gcs"), flow)
    rs = np.random.RandomState(0)
    s = np.zeros_like(frames[0])
    for _ in range(40):
        y, x = rs.randint(1, H - 1), rs.randint(1, W - 1)
        s[y, x] = frames[0][y, x]
    carried = s.astype(np.float32) / 255.0
    maps = [s]
    for t in range(1, 5):
        carried = _official_nearest_warp(carried, flow(frames[t - 1], frames[t]))
        maps.append((carried * 255).astype(np.uint8))
    assert [np.array_equal(img, widen_official(m, 5)) for img, m in zip(res.images, maps)] == [True] * 5
    assert res.alive == [int(m.any(axis=2).sum()) for m in maps]


def test_cli_gcs_protocol_records_itself_and_the_flow_it_used(tmp_path, monkeypatch):
    monkeypatch.setenv("SVCNET_WEIGHTS", str(tmp_path / "no-weights"))
    clips = _clip(tmp_path, 3)
    out = tmp_path / "scribbles"
    assert main(["scribbles", str(clips), "--out", str(out), "--protocol", "gcs", "--flow", "auto"]) == 0
    meta = json.loads((out / "gt" / "dog" / "metadata.json").read_text())
    assert meta["protocol"] == "gcs" and meta["settings"]["protocol"] == "gcs"
    assert meta["settings"]["flow"] == "dis-medium"  # no PWC-Net weights here: auto falls back to DIS, recorded
    assert any("dis-medium instead of PWC-Net" in d for d in meta["differences_from_official"])
    assert 0 < read_rgb(out / "gt" / "dog" / "00000_256p.png").any(axis=2).sum() <= 40 * 16


def test_gcs_pwcnet_same_weights_other_internal_warps():
    """GCS/pwcnet.py differs from SSNet's PWC-Net only in its pyramid warps (nearest, zero padding): same keys, same
    weights, other flows."""
    import torch

    from svcnet.models.pwcnet import PWCNet

    torch.manual_seed(0)
    net = PWCNet().eval()
    gcs = PWCNet(gcs=True).eval()
    gcs.load_state_dict(net.state_dict(), strict=True)
    img = cv2.resize(data.coffee(), (128, 64), interpolation=cv2.INTER_AREA)
    moved = np.roll(img, 3, axis=1)
    a, b = pwc_estimator(net)(img, moved), pwc_estimator(gcs, name="pwcnet-gcs")(img, moved)
    assert a.shape == b.shape == (64, 128, 2) and np.abs(a - b).max() > 1e-4
