"""The streaming loop reproduces windows 0 and 1 of the official test loop (shared parity fixtures: 8 real frames,
fake official weights); skipped without ../shared."""

from __future__ import annotations

import pytest
import torch

from svcnet.infer.flow import pwc_backend
from svcnet.infer.models import load_cpnet, load_pwcnet, load_ssnet
from svcnet.infer.streaming import FrameInput, InferenceConfig, Models, StreamingColorizer

torch.set_num_threads(2)
pytestmark = pytest.mark.slow
CODE = 1 / 255


@pytest.fixture(scope="module")
def results(parity_dir, fake_ckpt_dir):
    inputs = torch.load(parity_dir / "inputs.pt", map_location="cpu", weights_only=True)
    cpu = torch.device("cpu")
    models = Models(
        load_cpnet(fake_ckpt_dir / "cpnet_epoch1000_batchsize32.pth", cpu),
        load_ssnet(fake_ckpt_dir / "ssnet_epoch2000_bs8.pth", cpu),
        pwc_backend(load_pwcnet(fake_ckpt_dir / "pwcNet-default.pytorch", cpu)),
        cpu,
    )
    frames = [
        FrameInput(
            l8=(inputs["L8"][k].float() / 255).view(1, 1, 256, 448),
            tl=inputs["transform_l"][k].unsqueeze(0),
            scribble_ab=(inputs["scribble_ab8"][k].float() / 255).unsqueeze(0),
        )
        for k in range(8)
    ]
    colorizer = StreamingColorizer(models, InferenceConfig(edge="official"))
    return list(colorizer.run(frames))


def _close_but_for_code_flips(x: torch.Tensor, ref: torch.Tensor, max_flips: int = 40) -> None:
    """Equal to float32 precision except isolated pixels where CorrNet's uint8 round trip flipped one code."""
    diff = (x - ref).abs()
    assert diff.max().item() <= CODE + 1e-4
    assert int((diff > 1e-4).sum()) <= max_flips


def test_sources_and_cpnet(results, parity_dir):
    cp = torch.load(parity_dir / "cpnet.pt", map_location="cpu", weights_only=True)
    assert [r.source for r in results] == ["cpnet"] * 3 + ["ssnet"] * 2 + ["cpnet"] * 3
    assert (results[0].ab - cp["ab_f0"]).abs().max().item() <= 1e-5
    assert (results[3].cpnet_ab - cp["ab_f3"]).abs().max().item() <= 1e-5


def test_windows_0_and_1(results, parity_dir):
    ss = torch.load(parity_dir / "ssnet.pt", map_location="cpu", weights_only=True)
    _close_but_for_code_flips(results[3].out, ss["w0_ssnet_t"])  # window 0, centre frame 3
    _close_but_for_code_flips(results[3].ab, ss["w0_ssnet_sr_t"], max_flips=160)  # its ×2 SR output (saved)
    _close_but_for_code_flips(results[4].out, ss["w1_ssnet_t"])  # window 1: recurrent input = warped window 0
