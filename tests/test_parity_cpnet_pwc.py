"""CPNet and PWC-Net reproduce the official outputs of the shared parity fixtures (8 real frames, fake official
weights of shared/tools/make_fake_ckpts.py seed 0); skipped without ../shared."""

from __future__ import annotations

import pytest
import torch

from svcnet.models.checkpoint import load_official
from svcnet.models.cpnet import CPNet
from svcnet.models.pwcnet import PWCNet, pwc_estimate
from svcnet.ops.warp import warp_official

torch.set_num_threads(2)
pytestmark = pytest.mark.slow
TOL = 1e-5


@pytest.fixture(scope="module")
def inputs(parity_dir):
    return torch.load(parity_dir / "inputs.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def cpnet(fake_ckpt_dir):
    return load_official(CPNet(), fake_ckpt_dir / "cpnet_epoch1000_batchsize32.pth").eval()


def lightness(inputs, k: int) -> torch.Tensor:
    return (inputs["L8"][k].float() / 255).view(1, 1, 256, 448)


@pytest.mark.parametrize("k", [0, 3])
def test_cpnet_reproduces_official(inputs, parity_dir, cpnet, k):
    ref = torch.load(parity_dir / "cpnet.pt", map_location="cpu", weights_only=True)
    scribble = (inputs["scribble_ab8"][k].float() / 255).unsqueeze(0)
    with torch.no_grad():
        ab, seg = cpnet(lightness(inputs, k), scribble)
    ab_diff = (ab - ref[f"ab_f{k}"]).abs().max().item()
    seg_diff = (seg - ref[f"seg_f{k}"]).abs().max().item()
    print(f"CPNet frame {k}: max |Δab| = {ab_diff:.3g}, max |Δseg| = {seg_diff:.3g}")
    assert ab_diff <= TOL and seg_diff <= TOL


def test_pwcnet_reproduces_official(inputs, parity_dir, fake_ckpt_dir):
    net = load_official(PWCNet(), fake_ckpt_dir / "pwcNet-default.pytorch", what="PWC-Net").eval()
    ref = torch.load(parity_dir / "pwcnet.pt", map_location="cpu", weights_only=True)
    raw = {}
    net.register_forward_hook(lambda module, args, out: raw.setdefault("flow", out))
    first, second = (lightness(inputs, k).expand(1, 3, 256, 448) for k in (0, 3))
    with torch.no_grad():
        flow = pwc_estimate(net, first, second)
        warped = warp_official(first, flow)
    diffs = {
        "flow_0_to_3_raw": (raw["flow"] - ref["flow_0_to_3_raw"]).abs().max().item(),
        "flow_0_to_3": (flow - ref["flow_0_to_3"]).abs().max().item(),
        "warped_f0": (warped[:, :1] - ref["warped_f0"]).abs().max().item(),
    }
    print("PWC-Net max abs diffs:", diffs)
    assert flow.shape == (1, 2, 256, 448)
    assert torch.equal(warped[:, 0], warped[:, 2])
    assert max(diffs.values()) <= TOL
