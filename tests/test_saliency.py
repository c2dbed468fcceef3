"""Saliency: the PFAN network (forward, key layout, strict load), OpenCV fallbacks, dataset masks, method choice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from svcnet.cli import main
from svcnet.data.frames import read_mask
from svcnet.errors import CheckpointError, InputError
from svcnet.models.pfan import PFAN
from svcnet.saliency.classical import classical_saliency
from svcnet.saliency.pfan import load_pfan, pfan_saliency
from svcnet.saliency.run import SaliencySettings, run_saliency

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "datasets" / "demo" / "davis"


@pytest.fixture(scope="module")
def net() -> PFAN:
    torch.manual_seed(0)
    n = PFAN().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so a wrong load would show
        for m in n.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return n


def test_forward_shapes_and_range(net):
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        y = net(x)
        feats = net.backbone(x)
    assert y.shape == (2, 1, 32, 48) and y.min() > 0 and y.max() < 1
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
        "conv1_2": (64, 32, 48),
        "conv2_2": (128, 16, 24),
        "conv3_3": (256, 8, 12),
        "conv4_3": (512, 4, 6),
        "conv5_3": (512, 2, 3),
    }
    assert tuple(net.cha_att(torch.rand(2, 384, 4, 4)).shape) == (2, 384, 1, 1)
    assert tuple(net.spa_att(torch.rand(2, 64, 8, 8)).shape) == (2, 1, 8, 8)


def test_key_layout_of_the_public_port(net):
    sd = net.state_dict()
    assert len(sd) == 115 and sum(p.numel() for p in net.parameters()) == 16_381_607
    want = {
        "vgg16.0.weight": (64, 3, 3, 3),
        "vgg16.28.weight": (512, 512, 3, 3),
        "cpfe_conv3_3.conv_1_1.weight": (32, 256, 1, 1),
        "cpfe_conv5_3.conv_dil_7.weight": (32, 512, 3, 3),
        "cpfe_conv4_3.bn.running_var": (128,),
        "cha_att.linear_1.weight": (96, 384),
        "cha_att.linear_2.bias": (384,),
        "hl_conv1.weight": (64, 384, 3, 3),
        "ll_conv_2.weight": (64, 128, 3, 3),
        "spa_att.grp1_conv1k.weight": (32, 64, 1, 9),
        "spa_att.grp2_convk1.weight": (32, 64, 9, 1),
        "spa_att.grp1_bn2.num_batches_tracked": (),
        "ff_conv_1.weight": (1, 128, 3, 3),
    }
    assert {k: tuple(sd[k].shape) for k in want} == want
    assert "cpfe_conv3_3.conv_1_1.bias" not in sd  # CPFE convs have no bias


@pytest.fixture(scope="module")
def ckpt(net, tmp_path_factory) -> Path:
    """``net`` saved as the port saves it: a dict with the state_dict under ``model``."""
    path = tmp_path_factory.mktemp("pfan") / "pfan.pth"
    torch.save({"epoch": 204, "model": net.state_dict()}, path)
    return path


def test_checkpoint_round_trip_in_the_ports_format(net, ckpt):
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(load_pfan(ckpt)(x), net(x))
    bare = load_pfan(net.state_dict()).state_dict()  # a bare state_dict is accepted too
    assert all(torch.equal(v, bare[k]) for k, v in net.state_dict().items())


def test_keys_that_do_not_match_the_port_are_refused(net, tmp_path):
    sd = dict(net.state_dict())
    sd["ca.linear_1.weight"] = sd.pop("cha_att.linear_1.weight")
    torch.save({"model": sd}, tmp_path / "other.pth")
    with pytest.raises(
        CheckpointError,
        match=r"missing keys: cha_att\.linear_1\.weight.*unexpected keys: "
        r"ca\.linear_1\.weight.*sairajk",
    ):
        load_pfan(tmp_path / "other.pth")
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read PFAN checkpoint"):
        load_pfan(tmp_path / "broken.pth")


def test_pfan_maps_have_the_frame_size(net):
    frames = [cv2.resize(data.astronaut(), (112, 64), interpolation=cv2.INTER_AREA), data.coffee()[:64, :48]]
    maps = pfan_saliency(net, frames, size=32, batch=2)
    assert [m.shape for m in maps] == [(64, 112), (64, 48)] and all(m.dtype == np.uint8 for m in maps)


def test_classical_saliency():
    img = cv2.resize(data.astronaut(), (448, 256), interpolation=cv2.INTER_AREA)
    for method in ("spectral_residual", "fine_grained"):
        sal = classical_saliency(img, method)
        assert sal.shape == (256, 448) and sal.dtype == np.uint8 and sal.min() == 0 and sal.max() == 255
    assert not classical_saliency(np.full((64, 64, 3), 90, np.uint8)).any()  # a flat image has no salient region


def _clips(tmp_path: Path, masks: bool, n: int = 3) -> Path:
    root = tmp_path / "clips"
    for sub in ("frames", "masks") if masks else ("frames",):
        (root / "dog" / sub).mkdir(parents=True)
        for i in range(n):
            ext = "jpg" if sub == "frames" else "png"
            shutil.copy(DEMO / "dog" / sub / f"{i:05d}.{ext}", root / "dog" / sub)
    return root


def test_auto_falls_back_to_masks_then_classical_and_records_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SVCNET_WEIGHTS", str(tmp_path / "no-weights"))
    with_masks = _clips(tmp_path / "a", masks=True)
    (meta,) = run_saliency(with_masks, tmp_path / "out_a", SaliencySettings())
    assert meta["method"] == "masks" and "no PFAN weights" in meta["reason"]
    for i in range(3):
        assert np.array_equal(
            read_mask(tmp_path / "out_a" / "dog" / f"{i:05d}.png"), read_mask(DEMO / "dog" / "masks" / f"{i:05d}.png")
        )
    no_masks = _clips(tmp_path / "b", masks=False)
    (meta,) = run_saliency(no_masks, tmp_path / "out_b", SaliencySettings())
    assert meta["method"] == "spectral_residual" and "no dataset masks" in meta["reason"]
    saved = json.loads((tmp_path / "out_b" / "dog" / "metadata.json").read_text())
    assert saved["method"] == "spectral_residual" and saved["frame_names"] == ["00000", "00001", "00002"]
    assert sorted(p.name for p in (tmp_path / "out_b" / "dog").iterdir()) == [
        "00000.png",
        "00001.png",
        "00002.png",
        "metadata.json",
    ]
    (again,) = run_saliency(no_masks, tmp_path / "out_b", SaliencySettings())
    assert again.get("skipped") is True


def test_auto_uses_pfan_when_its_weights_are_given(ckpt, tmp_path):
    clips = _clips(tmp_path, masks=True, n=2)
    (meta,) = run_saliency(clips, tmp_path / "out", SaliencySettings(weights=str(ckpt), size=32))
    assert meta["method"] == "pfan" and meta["settings"]["weights"].endswith("pfan.pth")
    assert read_mask(tmp_path / "out" / "dog" / "00001.png").shape == (256, 448)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_pfan_on_cuda_without_a_gpu_is_a_user_error(ckpt, tmp_path, capsys):
    clips = _clips(tmp_path, masks=True, n=2)
    out = tmp_path / "out"
    args = ["saliency", str(clips), "--out", str(out), "--weights", str(ckpt), "--device", "cuda"]
    assert main(args) == 2
    assert "device 'cuda' was asked for but no CUDA GPU is available" in capsys.readouterr().err
    assert not (out / "dog" / "metadata.json").exists()


def test_cli_errors_are_one_line_and_write_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SVCNET_WEIGHTS", str(tmp_path / "no-weights"))
    clips = _clips(tmp_path, masks=False, n=2)
    out = tmp_path / "out"
    assert main(["saliency", str(clips), "--out", str(out), "--method", "pfan"]) == 2
    assert "missing weights pfan" in capsys.readouterr().err
    assert main(["saliency", str(clips), "--out", str(out), "--method", "masks"]) == 2
    assert "has no masks folder" in capsys.readouterr().err
    (clips / "dog" / "frames" / "00001.jpg").write_bytes(b"")
    assert main(["saliency", str(clips), "--out", str(out)]) == 2
    assert "00001.jpg" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(InputError):
        run_saliency(tmp_path / "missing", out, SaliencySettings())
