"""WARN warm-up (svcnet/train/warn_step.py): the task on real frames, and its hand-over to SSNet's joint training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import make_tiny_lmdb

from svcnet.train.distributed import DistInfo
from svcnet.train.settings import StageSettings, TrainSettings


@pytest.fixture(scope="module")
def lmdb(tmp_path_factory) -> Path:
    return make_tiny_lmdb(tmp_path_factory.mktemp("warn_data"), clips=("dog",), frames=8, size=(64, 96))


def _shifted_window(shift: int = 2, t: int = 7) -> dict[str, torch.Tensor]:
    """A window whose frame k is a real demo frame moved right by k·shift pixels, with the exact flows."""
    from svcnet.data.frames import list_frames, read_rgb
    from svcnet.train.samples import rgb_to_l_ab

    root = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis" / "dog" / "frames"
    rgb = read_rgb(list_frames(root)[0])[100:164, 200 : 296 + t * shift]
    ls, abs_ = [], []
    for k in range(t):
        crop = np.ascontiguousarray(rgb[:, t * shift - k * shift : t * shift - k * shift + 96])
        l, ab = rgb_to_l_ab(crop)  # frame_k(x) = image(x - k·shift)
        ls.append(l)
        abs_.append(ab)
    flows = torch.zeros(1, t, t, 2, 64, 96)
    for a in range(t):
        for b in range(t):
            flows[0, a, b, 0] = (a - b) * shift  # frame_b(x) = frame_a(x + (a - b)·shift)
    return {"l": torch.from_numpy(np.stack(ls))[None], "ab": torch.from_numpy(np.stack(abs_))[None], "flows": flows}


def test_true_flows_align_the_neighbours_and_an_identity_warn_scores_the_plain_warp():
    from svcnet.train.warn_step import WarnWarmupStep

    batch = _shifted_window()

    class Identity(torch.nn.Module):
        def forward(self, x, mask):
            return x

    step = WarnWarmupStep(Identity(), lr=1e-3)
    out = step(batch)
    unaligned = float((batch["ab"][:, :3] - batch["ab"][:, 3:4]).abs().mean())
    assert float(out["loss"]) == pytest.approx(float(out["loss_warped"]), rel=1e-6)
    assert float(out["loss_warped"]) < 0.25 * unaligned  # only the border columns (border padding) differ
    batch["flows"].zero_()
    assert float(step(batch)["loss_warped"]) > 0.5 * unaligned


def test_warm_up_windows_are_the_ssnet_windows_with_only_the_flows_onto_the_centre(lmdb):
    from svcnet.train.scribble_fns import window_scribble_fn
    from svcnet.train.settings import ScribbleSettings
    from svcnet.train.ssnet_data import SSNetWindows

    kw = dict(seed=3, crop=(48, 80), flow="dis", flow_direction="aligned")
    full = SSNetWindows(lmdb, (32, 48), window_scribble_fn(ScribbleSettings()), **kw)[1]
    warm = SSNetWindows(lmdb, (32, 48), None, warn_only=True, **kw)[1]
    assert set(warm) == {"l", "ab", "start", "flows"} and {"scribble", "xl"} <= set(full)
    for key in ("l", "ab", "start"):
        assert torch.equal(warm[key], full[key])
    for a in range(7):
        for b in range(7):
            if b == 3:
                assert torch.equal(warm["flows"][a, b], full["flows"][a, b])
            else:
                assert not warm["flows"][a, b].any()
    assert full["flows"][0, 1].abs().sum() > 0  # the joint-training windows keep all pairs
    with pytest.raises(ValueError, match="scribble_fn"):
        SSNetWindows(lmdb, (32, 48), None)


def test_warm_up_learns_and_ssnet_starts_from_it_with_warn_frozen(lmdb, tmp_path):
    from svcnet.models.checkpoint import load_official, save_official
    from svcnet.models.cpnet import CPNet
    from svcnet.models.warn import WarpArtifactRemovalNet
    from svcnet.train.checkpoints import load_weights
    from svcnet.train.stages import train_ssnet

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cp_path = save_official(CPNet(), tmp_path / "cpnet_start.pth")
    warm = StageSettings(
        unit="iteration", duration=12, batch_size=2, size=(32, 48), crop=(64, 96), lr=1e-3, save_every=0
    )
    st = StageSettings(
        unit="iteration", duration=1, size=(32, 48), crop=(64, 96), lr=1e-3, lr_cpnet=0.0, lambda_sr=1.0, save_every=0
    )
    ts = TrainSettings(num_workers=0, warn=warm, ssnet=st)
    res = train_ssnet(ts, lmdb, cp_path, tmp_path / "out", DistInfo(), progress=False)
    assert res.completed
    warn_file = tmp_path / "out" / "warn" / "warn.pth"
    load_official(WarpArtifactRemovalNet(), warn_file, what="WARN")  # official layout, strict
    import pandas as pd

    curve = pd.read_csv(tmp_path / "out" / "warn" / "log.csv")
    assert len(curve) == 12
    assert curve["loss"].iloc[-3:].mean() < 0.5 * curve["loss"].iloc[:3].mean()
    ssnet = load_weights(tmp_path / "out" / "ssnet.pth")
    warmed = load_weights(warn_file)
    assert all(torch.equal(ssnet[f"warn.{k}"], v) for k, v in warmed.items())  # loaded, then frozen
    cp_after, cp_before = load_weights(tmp_path / "out" / "cpnet.pth"), load_weights(cp_path)
    assert all(torch.equal(cp_after[k], cp_before[k]) for k in cp_after)  # lr_cpnet 0: CPNet frozen


def test_given_warn_weights_skip_the_warm_up(lmdb, tmp_path):
    from svcnet.models.checkpoint import save_official
    from svcnet.models.cpnet import CPNet
    from svcnet.models.warn import WarpArtifactRemovalNet
    from svcnet.train.checkpoints import load_weights
    from svcnet.train.settings import InitFiles
    from svcnet.train.stages import train_ssnet

    torch.set_num_threads(1)
    torch.manual_seed(1)
    cp_path = save_official(CPNet(), tmp_path / "cpnet_start.pth")
    given = save_official(WarpArtifactRemovalNet(), tmp_path / "warn_given.pth")
    warm = StageSettings(unit="iteration", duration=5, size=(32, 48), crop=(64, 96))
    st = StageSettings(unit="iteration", duration=1, size=(32, 48), crop=(64, 96), lr_cpnet=0.0, lambda_sr=1.0)
    ts = TrainSettings(num_workers=0, warn=warm, ssnet=st, init=InitFiles(warn=str(given)))
    train_ssnet(ts, lmdb, cp_path, tmp_path / "out", DistInfo(), progress=False)
    assert not (tmp_path / "out" / "warn").exists()
    ssnet, given_w = load_weights(tmp_path / "out" / "ssnet.pth"), load_weights(given)
    assert all(torch.equal(ssnet[f"warn.{k}"], v) for k, v in given_w.items())


def test_resume_after_the_warm_up_keeps_it_and_continues_ssnet(lmdb, tmp_path):
    from svcnet.models.checkpoint import save_official
    from svcnet.models.cpnet import CPNet
    from svcnet.train.checkpoints import load_weights
    from svcnet.train.stages import train_ssnet

    torch.set_num_threads(1)
    torch.manual_seed(2)
    cp_path = save_official(CPNet(), tmp_path / "cpnet_start.pth")
    warm = StageSettings(unit="iteration", duration=3, size=(32, 48), crop=(64, 96), lr=1e-3)
    st = StageSettings(
        unit="iteration", duration=2, size=(32, 48), crop=(64, 96), lr_cpnet=0.0, lambda_sr=1.0, save_every=1
    )
    ts = TrainSettings(num_workers=0, warn=warm, ssnet=st)
    out = tmp_path / "out"
    first = train_ssnet(ts, lmdb, cp_path, out, DistInfo(), progress=False, stop_after=1)
    assert not first.completed and (out / "warn" / "warn.pth").is_file()
    warn_before = load_weights(out / "warn" / "warn.pth")
    second = train_ssnet(ts, lmdb, cp_path, out, DistInfo(), progress=False, resume=True)
    assert second.completed and second.start_iteration == 1 and second.iteration == 2
    warn_after = load_weights(out / "warn" / "warn.pth")
    assert all(torch.equal(warn_after[k], v) for k, v in warn_before.items())  # the finished warm-up is not redone
    assert len((out / "warn" / "log.csv").read_text().splitlines()) == 1 + 3
