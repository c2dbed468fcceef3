"""Streaming SVCNet equals a plain re-implementation of the official windowed loop (random weights, CPU, 32×64
working size, 12 frames): every frame with the official edge policy, the frames both define with the mirror policy;
each frame's CPNet output and each flow are computed once and the buffer stays bounded."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from svcnet.data.frames import write_png
from svcnet.errors import InputError
from svcnet.infer.flow import dis_backend, pwc_backend
from svcnet.infer.inputs import open_clip, open_scribbles
from svcnet.infer.official_loop import file_loader, official_windowed_loop
from svcnet.infer.run import _frame_inputs
from svcnet.infer.streaming import InferenceConfig, Models, StreamingColorizer
from svcnet.ops.window import NEIGHBOUR_OFFSETS, reflect_index

torch.set_num_threads(2)
WORK = (32, 64)
N = 12
TOL = 1e-5


def pan_frame(i: int, size=(40, 72)) -> np.ndarray:
    """A smooth texture panning by (3, 1) px per frame, with a brighter square moving the other way (gray RGB)."""
    h, w = size
    rng = np.random.default_rng(7)
    scene = cv2.GaussianBlur(rng.uniform(0, 255, (h + 40, w + 80)).astype(np.float32), (0, 0), 2.5)
    scene = cv2.normalize(scene, None, 20, 220, cv2.NORM_MINMAX)
    g = scene[i : i + h, 3 * i : 3 * i + w].copy()
    g[16:28, 56 - 4 * i : 68 - 4 * i] += 30
    return np.repeat(np.clip(g, 0, 255).astype(np.uint8)[:, :, None], 3, 2)


def scribble(i: int) -> np.ndarray:
    rng = np.random.default_rng(100 + i)
    img = np.zeros((*WORK, 3), np.uint8)
    for _ in range(8):
        y, x = rng.integers(0, WORK[0] - 4), rng.integers(0, WORK[1] - 4)
        img[y : y + 4, x : x + 4] = rng.integers(0, 256, 3)
    return img


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    for i in range(N):
        write_png(root / "frames" / f"{i + 1}.png", pan_frame(i))
        write_png(root / "scribbles" / f"{i + 1}_32p.png", scribble(i))
    return root


@pytest.fixture(scope="module")
def nets():
    from svcnet.infer.models import load_cpnet, load_pwcnet, load_ssnet

    torch.manual_seed(0)
    cpu = torch.device("cpu")
    return load_cpnet(None, cpu), load_pwcnet(None, cpu), load_ssnet(None, cpu)


class Counting(torch.nn.Module):
    """Wraps a network and counts its calls."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.calls = 0

    def forward(self, *args):
        self.calls += 1
        return self.net(*args)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.net, name)


def official(clip_dir, nets, backend, n=N):
    cp, _, ss = nets
    frames = sorted((clip_dir / "frames").iterdir(), key=lambda p: int(p.stem))[:n]
    scribbles = [clip_dir / "scribbles" / f"{p.stem}_32p.png" for p in frames]
    return list(official_windowed_loop(file_loader(frames, scribbles, WORK), n, cp, ss, backend.official_pair_flow))


def streaming(clip_dir, nets, backend, edge, n=N, cpnet=None):
    cp, _, ss = nets
    config = InferenceConfig(work_size=WORK, edge=edge)
    clip = open_clip(clip_dir / "frames", limit=n)
    sc = open_scribbles(clip_dir / "scribbles", clip, WORK)
    colorizer = StreamingColorizer(Models(cpnet or cp, ss, backend, torch.device("cpu")), config)
    return list(colorizer.run(_frame_inputs(clip, sc, config))), colorizer


@pytest.fixture(scope="module")
def official_dis(clip_dir, nets):
    """The official windowed loop with DIS flows: real motion (the clip pans 3 px per frame), so a wrong pairing,
    order or flow direction in the streaming loop would show."""
    from svcnet.ops.flow_dis import dis_flow

    assert np.median(np.abs(dis_flow(pan_frame(3), pan_frame(0))[..., 0])) > 2  # centre vs neighbour −3: pans 9 px
    return official(clip_dir, nets, dis_backend())


def test_mirror_streaming_equals_official_where_both_define(clip_dir, nets, official_dis):
    counting = Counting(nets[0])
    backend = dis_backend()
    results, colorizer = streaming(clip_dir, nets, backend, "mirror", cpnet=counting)
    assert [r.index for r in results] == [r.index for r in official_dis] == list(range(N))
    assert [r.source for r in results] == ["ssnet"] * N
    assert [r.source for r in official_dis] == ["cpnet"] * 3 + ["ssnet"] * (N - 6) + ["cpnet"] * 3
    for a, b in zip(results, official_dis):
        assert a.ab.shape[-2:] == (2 * WORK[0], 2 * WORK[1])  # the ×2 SR output
        assert (a.cpnet_ab - b.cpnet_ab).abs().max().item() <= TOL, a.index
        if 3 <= a.index < N - 3:  # both run SSNet on the same window
            assert (a.ab - b.ab).abs().max().item() <= TOL, a.index
            assert (a.out - b.out).abs().max().item() <= TOL, a.index
        else:  # the official code gives these frames CPNet's output; we refine them with a mirrored window
            assert (a.ab - F.interpolate(b.ab, scale_factor=2)).abs().max().item() > 1e-3
    assert counting.calls == N  # CPNet once per frame (the official loop: 7 per window)
    pairs = {(t, reflect_index(t + k, N)) for t in range(N) for k in NEIGHBOUR_OFFSETS}  # DIS: (centre, neighbour)
    assert backend.pairs_computed == len(pairs)  # each distinct directed pair once, mirrored ones shared
    assert colorizer.peak_buffer <= 8 and backend.cached_pairs <= 42


def test_pwc_official_edges_every_frame_equal(clip_dir, nets):
    """PWC-Net backend (official neighbour→centre pairs, batched) with the official edge policy: all frames equal."""
    n = 8
    ref = official(clip_dir, nets, pwc_backend(nets[1]), n=n)
    backend = pwc_backend(nets[1])
    results, _colorizer = streaming(clip_dir, nets, backend, "official", n=n)
    assert [r.source for r in results] == [r.source for r in ref] == ["cpnet"] * 3 + ["ssnet"] * 2 + ["cpnet"] * 3
    for a, b in zip(results, ref):
        assert a.ab.shape == b.ab.shape
        assert (a.ab - b.ab).abs().max().item() <= TOL, a.index
    assert backend.pairs_computed == 6 * (n - 6)  # only the SSNet frames need flows, each pair once


def test_short_clips(clip_dir, nets):
    for n in (2,):
        results, _ = streaming(clip_dir, nets, dis_backend(), "mirror", n=n)
        assert [r.index for r in results] == list(range(n)) and all(r.source == "ssnet" for r in results)
    with pytest.raises(InputError, match="1 frame"):
        streaming(clip_dir, nets, dis_backend(), "mirror", n=1)
    with pytest.raises(InputError, match="needs at least 7"):
        streaming(clip_dir, nets, dis_backend(), "official", n=6)


def test_api_carried_scribble_bounded_lookahead(nets):
    """An in-memory clip through the library API with one carried scribble: frames are pulled at most a window
    ahead of the results and the flow cache stays bounded."""
    from svcnet.infer.api import colorize_results

    backend = dis_backend("ultrafast")
    read = []

    def frames():
        for i in range(10):
            read.append(i)
            yield pan_frame(i, size=WORK)

    first = scribble(0)
    counts = Counter()
    peak_pairs = 0
    models = Models(nets[0], nets[2], backend, torch.device("cpu"))
    for res in colorize_results(frames(), first, models, InferenceConfig(work_size=WORK, edge="official")):
        assert len(read) - (res.index + 1) <= 6  # at most a window ahead (3 once started)
        counts[res.source] += 1
        peak_pairs = max(peak_pairs, backend.cached_pairs)
        assert res.payload.shape == (*WORK, 3)
    assert counts == {"ssnet": 4, "cpnet": 6}
    assert peak_pairs <= 42


@pytest.mark.parametrize("start", [2, 5])
def test_continue_after_interruption_equals_uninterrupted(clip_dir, nets, start):
    """What a run killed after frame ``start - 1`` keeps (frame 0's L8 and CPNet output, SSNet's last output) is
    enough to continue: the frames from ``start`` on are exactly the uninterrupted run's, the buffer still bounded."""
    from itertools import islice

    cp, _, ss = nets
    config = InferenceConfig(work_size=WORK)
    full, _ = streaming(clip_dir, nets, dis_backend(), "mirror")
    clip = open_clip(clip_dir / "frames")
    sc = open_scribbles(clip_dir / "scribbles", clip, WORK)
    killed = StreamingColorizer(Models(cp, ss, dis_backend(), torch.device("cpu")), config)
    for res in killed.run(_frame_inputs(clip, sc, config)):
        if res.index == start - 1:
            break
    seed, prev = killed.reference_seed, killed.recurrent_state
    again = StreamingColorizer(Models(cp, ss, dis_backend(), torch.device("cpu")), config)
    again.restore(seed, prev)
    rest = list(again.run(islice(_frame_inputs(clip, sc, config), again.first_input(start), None), start=start))
    assert [r.index for r in rest] == list(range(start, N))
    for a, b in zip(rest, full[start:]):
        assert torch.equal(a.ab, b.ab) and torch.equal(a.out, b.out), a.index
    assert again.peak_buffer <= 8
