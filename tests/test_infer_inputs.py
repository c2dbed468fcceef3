"""Inference inputs, outputs and flow backends: frame/scribble discovery and checks, atomic output folder, DIS flow
direction, pair caching, scribble carrying (no network weights needed)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from svcnet.data.frames import read_rgb, write_mp4, write_png
from svcnet.errors import InputError
from svcnet.infer.carry import ScribbleCarrier
from svcnet.infer.flow import FlowBackend, dis_backend
from svcnet.infer.inputs import open_clip, open_scribbles
from svcnet.infer.writers import METADATA, VIDEO, clip_output, previous_metadata
from svcnet.ops.warp import warp_official
from svcnet.ops.window import reflect_index, visibility_masks

torch.set_num_threads(2)
WORK = (32, 48)


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (uint8 gray) that optical flow can track."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return img.astype(np.uint8)


def make_clip(folder, names, h=40, w=60):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        g = textured(h, w, i)
        write_png(folder / f"{name}.png", np.repeat(g[:, :, None], 3, 2))
    return folder


# --------------------------------------------------------------------------------------------------------- frames
def test_frames_in_numeric_order_and_names(tmp_path):
    clip = open_clip(make_clip(tmp_path / "f", ["10", "2", "1"]))
    assert clip.names == ["1", "2", "10"] and clip.size == (40, 60) and clip.count == 3
    got = list(clip.frames())
    assert [n for n, _ in got] == ["1", "2", "10"]
    assert np.array_equal(got[2][1], read_rgb(tmp_path / "f" / "10.png"))
    assert open_clip(tmp_path / "f", limit=2).count == 2


def test_empty_missing_mixed_unreadable(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image frames"):
        open_clip(tmp_path / "empty")
    with pytest.raises(InputError, match="not found"):
        open_clip(tmp_path / "nope")
    d = make_clip(tmp_path / "mixed", ["0", "1"])
    write_png(d / "2.png", np.zeros((20, 60, 3), np.uint8))
    with pytest.raises(InputError, match="same size"):
        open_clip(d)
    d = make_clip(tmp_path / "bad", ["0", "1"])
    (d / "2.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match="cannot read image .*2.png"):
        open_clip(d)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="neither a folder of frames nor a video"):
        open_clip(tmp_path / "x.txt")


def test_gray_rgba_16bit_frames_are_converted(tmp_path):
    d = tmp_path / "formats"
    d.mkdir()
    g = textured(40, 60)
    cv2.imwrite(str(d / "0.png"), g)  # 8-bit gray
    cv2.imwrite(str(d / "1.png"), np.dstack([g, g, g, np.full_like(g, 255)]))  # opaque RGBA
    cv2.imwrite(str(d / "2.png"), g.astype(np.uint16) * 257)  # 16-bit gray
    frames = list(open_clip(d).frames())
    assert all(img.dtype == np.uint8 and img.shape == (40, 60, 3) for _, img in frames)
    for _, img in frames:
        assert np.array_equal(img[:, :, 0], g) and np.array_equal(img[:, :, 2], g)


def test_video_input(tmp_path):
    frames = [np.repeat(textured(48, 64, i)[:, :, None], 3, 2) for i in range(5)]
    write_mp4(tmp_path / "v.mp4", frames, fps=12)
    clip = open_clip(tmp_path / "v.mp4")
    assert clip.is_video and clip.count is None and clip.fps == pytest.approx(12)
    got = list(clip.frames())
    assert [n for n, _ in got] == ["00000", "00001", "00002", "00003", "00004"]
    assert clip.size == (48, 64)
    assert np.abs(got[2][1].astype(int) - frames[2].astype(int)).mean() < 8  # lossy codec


# ------------------------------------------------------------------------------------------------------ scribbles
def test_scribble_matching_official_and_plain_names(tmp_path):
    clip = open_clip(make_clip(tmp_path / "f", ["00007", "00008"]))
    s = tmp_path / "s"
    s.mkdir()
    write_png(s / "00007_32p.png", np.zeros((32, 48, 3), np.uint8))  # official name, working size
    write_png(s / "8.png", np.zeros((40, 60, 3), np.uint8))  # plain name, frame size, number by value
    sc = open_scribbles(s, clip, WORK)
    assert sc.path_for("00007").name == "00007_32p.png" and sc.path_for("00008").name == "8.png"
    assert not sc.carried


def test_scribble_missing_extra_wrong_size(tmp_path):
    clip = open_clip(make_clip(tmp_path / "f", ["0", "1"]))
    s = tmp_path / "s"
    s.mkdir()
    write_png(s / "0.png", np.zeros((40, 60, 3), np.uint8))
    with pytest.raises(InputError, match="no scribble for frame 1"):
        open_scribbles(s, clip, WORK)
    write_png(s / "1.png", np.zeros((40, 60, 3), np.uint8))
    write_png(s / "2.png", np.zeros((40, 60, 3), np.uint8))
    with pytest.raises(InputError, match="scribble count mismatch: 3 scribble images .* for 2 frames"):
        open_scribbles(s, clip, WORK)
    (s / "2.png").unlink()
    write_png(s / "1.png", np.zeros((41, 60, 3), np.uint8))
    with pytest.raises(InputError, match=r"scribble .*1.png is 60x41 \(W x H\); scribbles must be"):
        open_scribbles(s, clip, WORK)
    with pytest.raises(InputError, match="scribbles not found"):
        open_scribbles(tmp_path / "nothing", clip, WORK)
    one = tmp_path / "first.png"
    write_png(one, np.zeros((40, 60, 3), np.uint8))
    assert open_scribbles(one, clip, WORK).carried


# ------------------------------------------------------------------------------------------------------- windows
def test_reflect_index():
    assert [reflect_index(j, 10) for j in (-3, -2, -1, 0, 9, 10, 11, 12)] == [3, 2, 1, 0, 9, 8, 7, 6]
    assert [reflect_index(j, None) for j in (-3, -1, 5)] == [3, 1, 5]
    assert [reflect_index(j, 2) for j in (-3, -2, -1, 1, 2, 3)] == [1, 0, 1, 1, 0, 1]
    assert all(reflect_index(j, 1) == 0 for j in range(-3, 4))


def test_visibility_mask_equals_official_three_channel_sum():
    g = torch.Generator().manual_seed(0)
    warped, centre = torch.rand(6, 1, 32, 48, generator=g), torch.rand(1, 1, 32, 48, generator=g)
    official = torch.exp(
        -200 * torch.pow(torch.sum(warped.expand(-1, 3, -1, -1) - centre.expand(-1, 3, -1, -1), 1, keepdim=True), 2)
    )
    assert torch.equal(visibility_masks(warped, centre), official)


# ---------------------------------------------------------------------------------------------------------- flows
def _shifted_pair(dx: int, dy: int):
    big = textured(64 + 20, 96 + 20, 3).astype(np.float32) / 255
    centre = big[10:74, 10:106]
    neighbour = big[10 - dy : 74 - dy, 10 - dx : 106 - dx]  # centre(p) = neighbour(p + (dx, dy))
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).view(1, 1, *a.shape)  # noqa: E731
    return t(centre), t(neighbour)


def test_dis_window_flow_aligns_neighbour_with_centre():
    centre, neighbour = _shifted_pair(dx=3, dy=-2)
    fb = dis_backend()
    fb.add_frame(0, neighbour)
    fb.add_frame(1, centre)
    flow = fb.window_flows(1, [0])
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    assert flow[0, 0][8:-8, 8:-8].median().item() == pytest.approx(3, abs=0.2)
    assert flow[0, 1][8:-8, 8:-8].median().item() == pytest.approx(-2, abs=0.2)
    err = (warp_official(neighbour, flow) - centre)[inner].abs().mean().item()
    assert err < 0.01 < (neighbour - centre)[inner].abs().mean().item()
    assert torch.equal(fb.align(1, 0), flow)  # the same pair, taken from the cache
    assert fb.pairs_computed == 1


def test_pair_cache_batches_and_forgets():
    calls = []

    def est(a, b):
        calls.append(a.shape[0])
        return torch.cat([a - b, a + b], 1)

    fb = FlowBackend("test", est, convention="official", batch=4)
    for i in range(8):
        fb.add_frame(i, torch.full((1, 1, 4, 4), float(i)))
    flows = fb.window_flows(3, [0, 1, 2, 4, 5, 6])  # official: (neighbour, centre) pairs
    assert calls == [4, 2] and fb.pairs_computed == 6
    assert torch.equal(flows[:, 0, 0, 0], torch.tensor([-3.0, -2, -1, 1, 2, 3]))
    fb.window_flows(3, [2, 4])
    assert fb.pairs_computed == 6  # cached
    fb.forget_pairs_up_to(5)  # pairs with both frames <= 5 can no longer be needed
    assert fb.cached_pairs == 1  # (6, 3) stays
    fb.forget_before(4)
    assert fb.cached_pairs == 1
    with pytest.raises(RuntimeError, match="frame 0 .* not in the buffer"):
        fb.align(0, 5)
    aligned = FlowBackend("t", est, convention="aligned")
    aligned.add_frame(0, torch.zeros(1, 1, 4, 4))
    aligned.add_frame(1, torch.ones(1, 1, 4, 4))
    assert aligned.window_flows(1, [0])[0, 0, 0, 0].item() == 1.0  # (centre, neighbour)


def test_scribble_carried_along_flow():
    img = np.zeros((32, 48, 3), np.uint8)
    img[10:14, 20:24] = (200, 30, 40)

    def est(a, b):  # target(p) = source(p + (-2, +1)): content moves right by 2 and up by 1
        flow = torch.zeros(a.shape[0], 2, *a.shape[-2:])
        flow[:, 0], flow[:, 1] = -2.0, 1.0
        return flow

    fb = FlowBackend("shift", est, convention="aligned")
    for i in range(3):
        fb.add_frame(i, torch.zeros(1, 1, 32, 48))
    carrier = ScribbleCarrier(img, (32, 48), lambda rgb, size: torch.from_numpy(rgb.copy()))
    first, second, third = (carrier.image(i, fb) for i in range(3))
    assert np.array_equal(first, img)
    expect = np.zeros_like(img)
    expect[8:12, 24:28] = (200, 30, 40)
    assert np.array_equal(third, expect)  # moved twice, colours untouched (nearest sampling)
    assert set(map(tuple, second.reshape(-1, 3))) == {(0, 0, 0), (200, 30, 40)}
    with pytest.raises(ValueError, match="frame by frame"):
        carrier.image(5, fb)


# -------------------------------------------------------------------------------------------------------- writers
def test_output_folder_is_atomic(tmp_path):
    out = tmp_path / "out"
    frames = [np.full((21, 31, 3), i * 40, np.uint8) for i in range(3)]
    with pytest.raises(RuntimeError), clip_output(out, fps=10) as w:
        w.add("a", frames[0])
        raise RuntimeError("network failed")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with clip_output(out, fps=10) as w:
        for i, f in enumerate(frames):
            w.add(f"{i:03d}", f)
        w.finish({"x": 1})
    meta = json.loads((out / METADATA).read_text())
    assert meta["frames"] == ["000", "001", "002"] and meta["x"] == 1
    assert np.array_equal(read_rgb(out / "frames" / "001.png"), frames[1])  # lossless
    assert (out / VIDEO).stat().st_size > 0
    assert previous_metadata(out)["x"] == 1
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty and is not an earlier"):
        previous_metadata(tmp_path / "foreign")
