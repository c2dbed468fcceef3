"""SSNet joint training on real (tiny) frames: one iteration end to end, what trains and what stays frozen."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_helpers import make_tiny_lmdb

from svcnet.train.checkpoints import load_weights
from svcnet.train.distributed import DistInfo
from svcnet.train.settings import StageSettings, TrainSettings


@pytest.fixture(scope="module")
def lmdb(tmp_path_factory) -> Path:
    return make_tiny_lmdb(tmp_path_factory.mktemp("ssnet_data"), clips=("dog",), frames=8, size=(64, 96))


def test_one_joint_iteration_trains_comb_sr_warn_and_cpnet_but_not_corrnet(lmdb, tmp_path):
    from svcnet.models.checkpoint import load_official, save_official
    from svcnet.models.cpnet import CPNet
    from svcnet.models.ssnet import SSNet
    from svcnet.train.stages import train_ssnet

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cp_path = save_official(CPNet(), tmp_path / "cpnet_start.pth")
    st = StageSettings(
        unit="iteration", duration=1, size=(32, 48), crop=(64, 96), lr=1e-3, lr_cpnet=1e-4, lambda_sr=1.0, save_every=0
    )
    ts = TrainSettings(num_workers=0, ssnet=st)
    res = train_ssnet(ts, lmdb, cp_path, tmp_path / "out", DistInfo(), progress=False)
    assert res.completed
    row = (tmp_path / "out" / "log.csv").read_text().splitlines()
    header, values = row[0].split(","), [float(v) for v in row[1].split(",")]
    losses = dict(zip(header, values))
    assert losses["loss_l1"] > 0 and losses["loss_sr"] > 0
    assert losses["loss"] == pytest.approx(losses["loss_l1"] + losses["loss_sr"], rel=1e-5)
    # both outputs load strictly into the official classes
    ss = load_official(SSNet(), tmp_path / "out" / "ssnet.pth", what="SSNet")
    load_official(CPNet(), tmp_path / "out" / "cpnet.pth", what="CPNet")
    after = load_weights(tmp_path / "out" / "ssnet.pth")
    from svcnet.train.init_weights import official_normal_init

    torch.manual_seed(0)  # the run's RNG use: seed, build CPNet, build SSNet, N(0, 0.02)
    _ = CPNet()
    before_net = SSNet(freeze_pretrained=False)
    official_normal_init(before_net)
    before = before_net.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert any(k.startswith("comb.") for k in changed)
    assert any(k.startswith("srnet.down2") for k in changed)
    assert any(k.startswith("warn.") for k in changed)  # no WARN weights given: trained jointly
    assert not any(k.startswith("corr.") for k in changed)  # CorrNet always frozen
    assert not any(k.startswith("srnet.down4") or k.startswith("srnet.down8") for k in changed)
    cp_after, cp_before = load_weights(tmp_path / "out" / "cpnet.pth"), load_weights(cp_path)
    assert any(not torch.equal(cp_after[k], cp_before[k]) for k in cp_after if k.startswith("E1"))
    assert all(torch.equal(cp_after[k], cp_before[k]) for k in cp_after if k.startswith("seg_decoder"))
    assert ss is not None


def test_untrained_sr_tail_without_sr_loss_is_refused(lmdb, tmp_path):
    from svcnet.errors import ConfigError
    from svcnet.train.stages import build_ssnet

    with pytest.raises(ConfigError, match="lambda_sr"):
        build_ssnet(TrainSettings(), StageSettings(lambda_sr=0.0))
