"""Official-layout checkpoints: strict loading with one clear error, unwrapping, atomic saving, the fake official
files (shared/tools/make_fake_ckpts.py) loading into CPNet, PWC-Net and the VGG16 features."""

from __future__ import annotations

import pytest
import torch

from svcnet.errors import CheckpointError
from svcnet.models.checkpoint import load_official, load_state_dict_file, save_official
from svcnet.models.cpnet import CPNet
from svcnet.models.pwcnet import PWCNet
from svcnet.models.vgg import VGGFeaNet


@pytest.fixture(scope="module")
def pwc_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return PWCNet().state_dict()


def test_save_then_load_strict_round_trip(tmp_path, pwc_state):
    src = PWCNet()
    src.load_state_dict(pwc_state)
    path = save_official(src, tmp_path / "sub" / "pwc.pytorch")
    assert path.is_file() and sorted(p.name for p in path.parent.iterdir()) == ["pwc.pytorch"]  # no temp left
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert list(raw) == list(pwc_state)  # official flat layout, same order
    dst = load_official(PWCNet(), path, what="PWC-Net")
    for k, v in dst.state_dict().items():
        assert torch.equal(v, pwc_state[k]), k


def test_cpnet_round_trip_keeps_aliases_shared(tmp_path):
    torch.manual_seed(1)
    src = CPNet()
    path = save_official(src, tmp_path / "cpnet.pth")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert len(raw) == 98
    assert (
        raw["conv4_3_gray.3.weight"].untyped_storage().data_ptr()
        == raw["vgg.features.19.weight"].untyped_storage().data_ptr()
    )
    dst = load_official(CPNet(), path)
    assert torch.equal(dst.conv4_3_gray[3].weight, src.vgg.features[19].weight)
    assert dst.conv4_3_gray[3].weight is dst.vgg.features[19].weight


def test_wrapped_and_prefixed_state_dicts_load(tmp_path, pwc_state):
    wrapped = {"state_dict": {f"module.{k}": v for k, v in pwc_state.items()}, "epoch": 3}
    torch.save(wrapped, tmp_path / "w.pth")
    assert list(load_state_dict_file(tmp_path / "w.pth")) == list(pwc_state)
    net = load_official(PWCNet(), wrapped, what="PWC-Net")
    assert torch.equal(net.moduleRefiner.moduleMain[0].weight, pwc_state["moduleRefiner.moduleMain.0.weight"])


def test_missing_and_unexpected_keys_are_named(pwc_state):
    bad = dict(pwc_state)
    del bad["moduleSix.moduleOne.0.weight"]
    bad["moduleSeven.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as exc:
        load_official(PWCNet(), bad, what="PWC-Net")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "1 missing keys: moduleSix.moduleOne.0.weight" in msg
    assert "1 unexpected keys: moduleSeven.weight" in msg
    assert "PWC-Net" in msg


def test_shape_mismatch_is_named_with_both_shapes(pwc_state):
    bad = dict(pwc_state)
    bad["moduleTwo.moduleUpflow.bias"] = torch.zeros(3)
    with pytest.raises(
        CheckpointError, match=r"1 shape mismatches: moduleTwo\.moduleUpflow\.bias \(file 3, network 2\)"
    ):
        load_official(PWCNet(), bad, what="PWC-Net")


def test_many_problems_are_counted_not_all_listed(pwc_state):
    with pytest.raises(CheckpointError) as exc:
        load_official(CPNet(), pwc_state)
    msg = str(exc.value)
    assert "98 missing keys" in msg and "126 unexpected keys" in msg and "(+93 more)" in msg


def test_unreadable_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_state_dict_file(tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_state_dict_file(tmp_path / "junk.pth")
    torch.save({"a": 1}, tmp_path / "ints.pth")
    with pytest.raises(CheckpointError, match="not a flat state_dict"):
        load_state_dict_file(tmp_path / "ints.pth")
    torch.save({}, tmp_path / "empty.pth")
    with pytest.raises(CheckpointError, match="holds no state_dict"):
        load_state_dict_file(tmp_path / "empty.pth")


def test_fake_official_checkpoints_load_strictly(fake_ckpt_dir):
    raw = load_state_dict_file(fake_ckpt_dir / "cpnet_epoch1000_batchsize32.pth")
    assert len(raw) == 98
    cp = load_official(CPNet(), raw, what="CPNet")
    assert torch.equal(cp.E3[1].conv2d.weight, raw["E3.1.conv2d.weight"])
    assert torch.equal(cp.conv5_3_gray[5].weight, raw["vgg.features.28.weight"])
    load_official(PWCNet(), fake_ckpt_dir / "pwcNet-default.pytorch", what="PWC-Net")
    vgg = load_official(VGGFeaNet(), fake_ckpt_dir / "vgg16_pretrained.pth", what="VGG16")
    cp.vgg.load_state_dict(vgg.state_dict())
    with pytest.raises(CheckpointError, match="98 missing keys"):
        load_official(CPNet(), fake_ckpt_dir / "pwcNet-default.pytorch")


def test_a_full_disk_is_one_clear_error_and_the_previous_file_stays(small_disk):
    """torch's zip writer reports a short write without its errno; the error names the file and the free space."""
    from svcnet.errors import DiskFullError
    from svcnet.models.checkpoint import save_torch_file

    path = small_disk / "state.pt"
    small = {"w": torch.arange(16, dtype=torch.float32)}
    save_torch_file(small, path)
    with pytest.raises(DiskFullError, match=rf"no space left on the disk holding {path} \(\d+ MiB free, about 4 MiB"):
        save_torch_file({"w": torch.zeros(2**20)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["w"], small["w"])
    assert [p.name for p in small_disk.iterdir()] == ["state.pt"]  # the temporary folder was removed
