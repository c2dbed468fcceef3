"""CPNet, PWC-Net and the VGG16 features expose exactly the official state_dict keys, shapes, dtypes and order."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from svcnet.models.cpnet import GRAY_STAGES, CPNet
from svcnet.models.pwcnet import PWCNet
from svcnet.models.vgg import VGG16_CONV_INDICES, VGGFeaNet

KEYS_DIR = Path(__file__).parent / "fixtures" / "state_dict_keys"


def read_keys(name: str) -> list[tuple[str, tuple[int, ...], str]]:
    rows = []
    for line in (KEYS_DIR / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape, dtype = line.split("\t")
            rows.append((key, tuple(int(s) for s in shape.split("x")), dtype))
    return rows


def layout(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()]


@pytest.mark.parametrize(
    "cls, name, entries, params",
    [
        (CPNet, "CPNet_VGG16_Seg.txt", 98, 76_760_256),
        (PWCNet, "PWCNet.txt", 126, 9_374_274),
        (VGGFeaNet, "VGGFeaNet_vgg16_features.txt", 26, 14_714_688),
    ],
)
def test_state_dict_layout_matches_spec(cls, name, entries, params):
    model = cls()
    expected = read_keys(name)
    assert len(expected) == entries
    assert layout(model) == expected
    assert sum(p.numel() for p in model.parameters()) == params  # shared (aliased) tensors counted once


def test_cpnet_gray_branch_aliases_vgg_modules():
    net = CPNet()
    sd = net.state_dict()
    for name, (lo, hi) in GRAY_STAGES.items():
        for j, i in enumerate(range(lo, hi)):
            assert getattr(net, name)[j] is net.vgg.features[i]
    aliases = [k for k in sd if "_gray." in k]
    assert len(aliases) == 26
    for k in aliases:
        stage, j, what = k.split(".")
        i = GRAY_STAGES[stage][0] + int(j)
        assert i in VGG16_CONV_INDICES
        assert sd[k].data_ptr() == sd[f"vgg.features.{i}.{what}"].data_ptr()


def test_cpnet_vgg_loads_a_torchvision_features_state_dict():
    """The gray branch takes a VGG16 ``features.N`` file (train.init.vgg16) and the aliases follow."""
    net = CPNet()
    src = VGGFeaNet()
    with torch.no_grad():
        for p in src.parameters():
            p.normal_()
    net.vgg.load_state_dict(src.state_dict(), strict=True)
    assert torch.equal(net.state_dict()["conv5_3_gray.5.weight"], src.features[28].weight)
    assert torch.equal(net.state_dict()["conv1_2_gray.0.bias"], src.features[0].bias)


def test_cpnet_and_pwcnet_shapes_small():
    torch.manual_seed(0)
    net = CPNet().eval()
    with torch.no_grad():
        ab, seg = net(torch.rand(2, 1, 32, 48), torch.rand(2, 2, 32, 48))
    assert ab.shape == (2, 2, 32, 48) and seg.shape == (2, 1, 32, 48)
    assert float(ab.min()) >= 0 and float(ab.max()) <= 1 and float(seg.min()) >= 0 and float(seg.max()) <= 1
    with pytest.raises(ValueError, match="divisible by 16"):
        net(torch.rand(1, 1, 30, 48), torch.rand(1, 2, 30, 48))
    with pytest.raises(ValueError, match="B×1×H×W"):
        net(torch.rand(1, 3, 32, 48), torch.rand(1, 2, 32, 48))
