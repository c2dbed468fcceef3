"""LPIPS from a locally made AlexNet backbone file (the real one cannot be downloaded here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data
from torchvision.models import alexnet

from svcnet.evaluate.lpips_backbone import FILE_NAME, load_lpips
from svcnet.metrics import build_lpips, lpips_distance

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    """A randomly initialised torchvision AlexNet trunk saved like the official file (features only, ~10 MB)."""
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in alexnet(weights=None).features.state_dict().items()}
    path = tmp_path_factory.mktemp("lpips") / FILE_NAME
    torch.save(state, path)
    return path


def images(n: int = 2) -> torch.Tensor:
    img = torch.from_numpy(data.astronaut()[::4, ::4].copy()).permute(2, 0, 1).float() / 255.0
    return img.unsqueeze(0).repeat(n, 1, 1, 1)


def test_lpips_identical_zero_different_positive(backbone):
    setup = load_lpips(backbone, verify=False)
    assert setup.model is not None and setup.reason is None and setup.backbone == str(backbone)
    x = images()
    same = lpips_distance(setup.model, x, x)
    assert same.shape == (2,) and torch.all(same == 0)
    y = x.clone()
    y[1] = y[1].flip(-1)
    d = lpips_distance(setup.model, x, y)
    assert d[0] == 0 and d[1] > 0


def test_lpips_trunk_holds_the_file_weights(backbone):
    state = torch.load(backbone, weights_only=True)
    model = build_lpips(state)
    assert torch.equal(model.net.slice1[0].weight, state["features.0.weight"])
    assert torch.equal(getattr(model.net.slice5, "10").bias, state["features.10.bias"])
    with pytest.raises(RuntimeError):  # strict: a missing layer fails loudly
        build_lpips({k: v for k, v in state.items() if k != "features.3.weight"})
    with pytest.raises(KeyError):
        build_lpips({**state, "fc.weight": torch.zeros(1)})


def test_unverified_file_is_reported_not_used(backbone):
    setup = load_lpips(backbone, verify=True)  # the registry's sha256 does not match the random file
    assert setup.model is None and "unusable" in setup.reason and "sha256" in setup.reason.lower()


def test_missing_backbone_gives_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SVCNET_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    setup = load_lpips()
    assert setup.model is None and FILE_NAME in setup.reason and "svcnet fetch lpips_alexnet" in setup.reason


def test_explicit_missing_path_is_an_error(tmp_path):
    from svcnet.errors import SvcnetError

    with pytest.raises(SvcnetError, match="not found"):
        load_lpips(tmp_path / "nope.pth")


def test_torch_home_is_searched(backbone, tmp_path, monkeypatch):
    ckpt = tmp_path / "th" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / FILE_NAME).write_bytes(backbone.read_bytes())
    monkeypatch.setenv("SVCNET_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    setup = load_lpips(verify=False)
    assert setup.model is not None and setup.backbone == str(ckpt / FILE_NAME)
    assert np.isfinite(lpips_distance(setup.model, images(1), images(1)).numpy()).all()
