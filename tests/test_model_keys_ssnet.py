"""SSNet and its sub-networks expose exactly the official state_dict keys, shapes and dtypes, and round-trip
strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from svcnet.models.combination import CombinationNet
from svcnet.models.corrnet import VGG19Features, WarpNet
from svcnet.models.srnet import ColorEmbeddingSRNet
from svcnet.models.ssnet import SSNet
from svcnet.models.warn import WarpArtifactRemovalNet

KEYS_DIR = Path(__file__).parent / "fixtures" / "state_dict_keys"

CASES = [
    (SSNet, "SSNet.txt"),
    (WarpArtifactRemovalNet, "WARN_Warp_Artifact_Removal_Net.txt"),
    (VGG19Features, "CorrNet_VGG19_pytorch.txt"),
    (WarpNet, "CorrNet_WarpNet_nonlocal.txt"),
    (CombinationNet, "Combination_Net.txt"),
    (ColorEmbeddingSRNet, "SRNet_Color_Embedding_SR_Net.txt"),
]


def read_keys(name: str) -> list[tuple[str, tuple[int, ...], str]]:
    rows = []
    for line in (KEYS_DIR / name).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape, dtype = line.split("\t")
        rows.append((key, tuple(int(s) for s in shape.split("x")), dtype))
    return rows


def layout(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()]


@pytest.mark.parametrize("cls,keys_file", CASES, ids=[c[1] for c in CASES])
def test_state_dict_layout_matches_official(cls, keys_file):
    assert layout(cls()) == read_keys(keys_file)


def test_ssnet_parameter_count_matches_official():
    header = (KEYS_DIR / "SSNet.txt").read_text().splitlines()[2]
    assert "34678203 parameter elements" in header
    assert sum(p.numel() for p in SSNet().parameters()) == 34678203


def test_ssnet_strict_round_trip(tmp_path):
    torch.manual_seed(0)
    src = SSNet()
    path = tmp_path / "ssnet.pth"
    torch.save(src.state_dict(), path)
    dst = SSNet()
    dst.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    for (k, a), (k2, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_ssnet_strict_load_rejects_missing_key():
    sd = SSNet().state_dict()
    sd.pop("corr.nonlocal_net.theta.bias")
    with pytest.raises(RuntimeError, match="theta.bias"):
        SSNet().load_state_dict(sd, strict=True)


def test_ssnet_loads_fake_official_checkpoint(fake_ckpt_dir):
    sd = torch.load(fake_ckpt_dir / "ssnet_epoch2000_bs8.pth", map_location="cpu", weights_only=True)
    net = SSNet()
    net.load_state_dict(sd, strict=True)
    assert torch.equal(net.corr.vggnet.conv5_4.weight, sd["corr.vggnet.conv5_4.weight"])


def test_pretrained_parts_frozen():
    net = SSNet()
    assert not any(p.requires_grad for p in net.warn.parameters())
    assert not any(p.requires_grad for p in net.corr.parameters())
    assert all(p.requires_grad for p in net.comb.parameters())
    assert all(p.requires_grad for p in net.srnet.parameters())
