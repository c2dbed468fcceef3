"""Byte-identical outputs: checkpoints name their archive after the final file, not the atomic write's temporary."""

from __future__ import annotations

import zipfile

import pytest
import torch

from svcnet.models.checkpoint import save_torch_file
from svcnet.train.checkpoints import save_checkpoint, save_weights


def _state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.zeros(4)}


def test_saved_weights_are_the_same_bytes_in_any_folder(tmp_path):
    first, second = tmp_path / "a" / "cpnet.pth", tmp_path / "b" / "cpnet.pth"
    save_weights(first, _state())
    save_weights(second, _state())
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert names and all(n.startswith("cpnet/") for n in names), names
    assert sorted(p.name for p in first.parent.iterdir()) == ["cpnet.pth"]  # no temporary left behind


def test_torch_files_of_a_checkpoint_folder_are_named_after_themselves(tmp_path):
    folder = save_checkpoint(tmp_path, 3, {"ssnet": _state()}, {"step": torch.tensor(1)})
    again = save_checkpoint(tmp_path / "again", 3, {"ssnet": _state()}, {"step": torch.tensor(1)})
    for name, prefix in (("ssnet.pth", "ssnet/"), ("state.pt", "state/")):
        assert all(n.startswith(prefix) for n in zipfile.ZipFile(folder / name).namelist())
        assert (folder / name).read_bytes() == (again / name).read_bytes()


def test_a_failed_save_leaves_the_previous_file(tmp_path):
    dest = tmp_path / "w.pth"
    save_torch_file({"x": torch.ones(2)}, dest)
    before = dest.read_bytes()
    with pytest.raises(AttributeError):  # a lambda cannot be pickled: torch.save fails half-way
        save_torch_file({"x": lambda: 0}, dest)
    assert dest.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth"]
