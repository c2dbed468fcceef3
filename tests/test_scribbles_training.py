"""Random training scribbles (docs/official.md §3.3): geometry, probability, per-frame independence, reproducibility."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
from skimage import data

from svcnet.scribbles.squares import scribble_blobs
from svcnet.scribbles.training import RandomScribble, RandomWindowScribble, random_points

IMG = np.maximum(cv2.resize(data.astronaut(), (448, 256), interpolation=cv2.INTER_AREA), 1)  # no black pixel


def test_points_are_4x4_squares_of_the_pixel_colour():
    rng = np.random.default_rng(0)
    out = random_points(IMG, 5, 5, rng)
    rng = np.random.default_rng(0)
    yx = [(int(rng.integers(0, 256)), int(rng.integers(0, 448))) for _ in range(5)]
    last_y, last_x = yx[-1]
    top, left = max(0, last_y - 2), max(0, last_x - 2)
    assert (out[top : last_y + 2, left : last_x + 2] == IMG[last_y, last_x]).all()  # painted last: whole square
    for y, x in yx:
        assert out[y, x].any()  # the centre pixel is in its own square [c-2, c+2)
    assert out.any(axis=2).sum() <= 5 * 16
    assert all(b.height <= 4 and b.width <= 4 for b in scribble_blobs(out) if b.pixels <= 16)


def test_probability_count_range_and_determinism():
    t = RandomScribble(prob=0.5, max_points=40, width=5)
    on, counts = 0, []
    for seed in range(200):
        a = t(IMG, np.random.default_rng(seed))
        assert np.array_equal(a, t(IMG, np.random.default_rng(seed)))  # same generator state, same scribble
        if a.any():
            on += 1
            counts.append(a.any(axis=2).sum())
    assert 80 <= on <= 120  # Bernoulli(0.5) over 200 draws
    assert max(counts) <= 39 * 16  # at most randint(0, 40) - 1 = 39 points
    assert not RandomScribble(prob=0.0)(IMG, np.random.default_rng(0)).any()
    assert RandomScribble(prob=1.0, max_points=1)(IMG, np.random.default_rng(0)).sum() == 0  # 0 points


def test_window_frames_get_independent_points_and_one_switch():
    t = RandomWindowScribble(prob=1.0)
    frames = [IMG] * 7
    out = t(frames, np.random.default_rng(3))
    assert len(out) == 7 and sum(o.any() for o in out) >= 6
    assert len({o.tobytes() for o in out}) == 7  # positions drawn per frame, not carried
    off = RandomWindowScribble(prob=0.0)(frames, np.random.default_rng(3))
    assert not any(o.any() for o in off)


def test_transforms_pickle_for_dataloader_workers():
    t = pickle.loads(pickle.dumps(RandomScribble(0.3, 10, 5)))
    assert t == RandomScribble(0.3, 10, 5)


def test_same_draws_as_the_training_stage_functions():
    """svcnet.train.scribble_fns draws the same scribbles from the same generator (so it can delegate here)."""
    from svcnet.train.scribble_fns import image_scribble_fn, window_scribble_fn
    from svcnet.train.settings import ScribbleSettings

    s = ScribbleSettings(prob=0.5, max_points=40, width=5)
    img_fn, win_fn = image_scribble_fn(s), window_scribble_fn(s)
    for seed in range(20):
        assert np.array_equal(
            img_fn(IMG, np.random.default_rng(seed)), RandomScribble(0.5, 40, 5)(IMG, np.random.default_rng(seed))
        )
        a = win_fn([IMG, IMG], np.random.default_rng(seed))
        b = RandomWindowScribble(0.5, 40, 5)([IMG, IMG], np.random.default_rng(seed))
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
