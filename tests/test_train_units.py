"""Training building blocks: resumable sample streams, checkpoints, logs, schedules, settings, SSNet window helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from svcnet.train.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from svcnet.train.logs import CsvLog, plot_loss_curve, read_csv_log
from svcnet.train.rng import rng_state, set_rng_state
from svcnet.train.sampling import EpochShuffle, IterationSampler
from svcnet.train.settings import StageSettings, to_iterations
from svcnet.train.ssnet_data import pair_flow, window_flows
from svcnet.train.ssnet_step import palindrome, visibility_mask


def test_two_processes_draw_the_samples_of_one_process_with_twice_the_batch():
    one = list(IterationSampler(3, 6, batch_size=2, world_size=1, rank=0))
    r0 = list(IterationSampler(3, 6, batch_size=1, world_size=2, rank=0))
    r1 = list(IterationSampler(3, 6, batch_size=1, world_size=2, rank=1))
    assert one == [6, 7, 8, 9, 10, 11]
    assert [x for pair in zip(r0, r1) for x in pair] == one
    # resuming at iteration 4 continues the same stream
    assert list(IterationSampler(4, 6, 2)) == one[2:]


def test_epoch_shuffle_is_a_seeded_permutation_per_epoch():
    s = EpochShuffle(5, seed=3)
    e0 = [s.item(i) for i in range(5)]
    e1 = [s.item(i) for i in range(5, 10)]
    assert sorted(e0) == sorted(e1) == list(range(5))
    assert e0 != e1 or e0 != [s.item(i) for i in range(10, 15)]
    assert [EpochShuffle(5, seed=3).item(i) for i in range(7, 10)] == e1[2:]


def test_rng_state_round_trip_through_weights_only_load(tmp_path):
    torch.manual_seed(1)
    np.random.seed(1)
    state = rng_state()
    torch.save(state, tmp_path / "s.pt")
    a = (torch.rand(3), np.random.rand(3))
    set_rng_state(torch.load(tmp_path / "s.pt", weights_only=True))
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_checkpoints_keep_the_last_two_and_point_at_the_latest(tmp_path):
    w = {"net": {"w": torch.arange(4.0)}}
    for it in (2, 4, 6):
        save_checkpoint(tmp_path, it, {"net": {"w": torch.full((4,), float(it))}}, {"x": it}, keep=2)
    folders = sorted(p.name for p in (tmp_path / "checkpoints").glob("iter_*"))
    assert folders == ["iter_00000004", "iter_00000006"]
    latest = latest_checkpoint(tmp_path)
    weights, state = load_checkpoint(latest, ["net"])
    assert state["iteration"] == 6 and state["x"] == 6 and torch.equal(weights["net"]["w"], torch.full((4,), 6.0))
    # a stale pointer (e.g. a kill between the folder rename and the pointer update) falls back to the newest folder
    (tmp_path / "checkpoints" / "latest.txt").write_text("iter_00000099\n")
    assert latest_checkpoint(tmp_path).name == "iter_00000006"
    assert w  # unused


def test_csv_log_drops_rows_after_the_resumed_iteration_and_plots(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path, ["loss", "lr"])
    for i in range(1, 6):
        log.write(i, {"loss": 1.0 / i, "lr": 0.1})
    log.close()
    log = CsvLog(path, ["loss", "lr"], resume_from=3)
    log.write(4, {"loss": 0.2, "lr": 0.05})
    log.close()
    cols = read_csv_log(path)
    assert cols["iteration"] == [1, 2, 3, 4] and cols["loss"][-1] == pytest.approx(0.2)
    png = plot_loss_curve(path, tmp_path / "loss.png", title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_epochs_become_iterations_with_the_global_batch():
    st = StageSettings(unit="epoch")
    assert to_iterations(st, 20, n_items=1_281_167, global_batch=32) == 20 * 40_037
    assert to_iterations(StageSettings(unit="iteration"), 7, 10, 4) == 7


def test_palindrome_and_official_visibility_mask():
    assert palindrome(7) == [0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0]
    a = torch.zeros(1, 1, 2, 2)
    b = torch.full((1, 1, 2, 2), 0.01)
    # three identical channels summed before squaring: exp(-200 * (3 * 0.01)^2)
    assert torch.allclose(visibility_mask(a, b, 200.0), torch.full_like(a, float(np.exp(-200 * 0.03**2))))


def test_window_flow_conventions_on_a_real_shift():
    from skimage import data

    from svcnet.ops.warp import warp_by_flow

    img = np.ascontiguousarray(data.camera()[100:228, 100:292])
    shifted = np.ascontiguousarray(np.roll(img, 3, axis=1))  # content moves 3 px right
    aligned = pair_flow(img, shifted, "aligned")  # warps frame a (img) onto frame b (shifted)
    warped = warp_by_flow(torch.from_numpy(img).float()[None, None], torch.from_numpy(aligned)[None])
    inner = (slice(16, -16), slice(16, -16))
    assert np.abs(warped[0, 0].numpy()[inner] - shifted[inner]).mean() < 2.0
    official = pair_flow(img, shifted, "official")  # estimated a -> b: points the other way
    assert np.median(official[0][inner]) == pytest.approx(3.0, abs=0.3)
    assert np.median(aligned[0][inner]) == pytest.approx(-3.0, abs=0.3)
    flows = window_flows([img] * 7, "aligned")
    assert flows.shape == (7, 7, 2, *img.shape) and not flows[0, 4].any() and not flows[2, 2].any()


def test_training_scribbles_follow_the_official_recipe():
    from svcnet.train.scribble_fns import image_scribble_fn, random_points_scribble, window_scribble_fn
    from svcnet.train.settings import ScribbleSettings

    rgb = np.random.default_rng(0).integers(1, 255, (32, 48, 3), dtype=np.uint8)
    one = random_points_scribble(rgb, 1, 5, np.random.default_rng(1))
    ys, xs = np.nonzero(one.any(-1))
    assert len(ys) <= 16 and (ys.max() - ys.min() + 1) <= 4 and (xs.max() - xs.min() + 1) <= 4
    colour = one[ys[0], xs[0]]
    assert (one[ys, xs] == colour).all() and (rgb == colour).all(-1).any()
    draw = image_scribble_fn(ScribbleSettings(prob=0.5, max_points=40, width=5))
    on = [draw(rgb, np.random.default_rng(i)).any() for i in range(200)]
    assert 60 < sum(on) < 140  # about half of the images get scribbles (0 points is possible too)
    frames = [rgb, rgb[::-1].copy()]
    wdraw = window_scribble_fn(ScribbleSettings(prob=1.0))
    a, b = wdraw(frames, np.random.default_rng(5))
    assert not np.array_equal(a.any(-1), b.any(-1))  # independent points per frame
    assert not any(x.any() for x in window_scribble_fn(ScribbleSettings(prob=0.0))(frames, np.random.default_rng(5)))
