"""The one device resolver (svcnet.ops.device) and the stages that use it."""

from __future__ import annotations

import pytest
import torch

from svcnet.errors import SvcnetError
from svcnet.ops.device import resolve_device

HAS_CUDA = torch.cuda.is_available()


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cpu", cuda_index=1) == torch.device("cpu")
    assert resolve_device("auto") == (torch.device("cuda") if HAS_CUDA else torch.device("cpu"))
    assert resolve_device("auto", cuda_index=0) == (torch.device("cuda", 0) if HAS_CUDA else torch.device("cpu"))


@pytest.mark.parametrize("name", ["tpu", "CUDA", "cuda:", "cuda:x", "", "mps"])
def test_unknown_names_are_refused_with_the_choices(name):
    with pytest.raises(SvcnetError, match=r"unknown device .*choose one of auto, cpu, cuda \(or cuda:N\)"):
        resolve_device(name)


@pytest.mark.skipif(HAS_CUDA, reason="needs a machine without CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_without_a_gpu_is_a_user_error(name):
    with pytest.raises(
        SvcnetError, match=rf"device '{name}' was asked for but no CUDA GPU is available; use device cpu"
    ):
        resolve_device(name, cuda_index=0)


@pytest.mark.gpu
def test_cuda_indices():
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda", cuda_index=0) == torch.device("cuda", 0)
    assert resolve_device("cuda:0", cuda_index=3) == torch.device("cuda", 0)


def test_every_stage_refuses_an_unknown_device_the_same_way(tmp_path):
    from svcnet.scribbles.flow import make_flow_estimator
    from svcnet.train.distributed import init_distributed

    message = r"unknown device 'tpu'"
    with pytest.raises(SvcnetError, match=message):
        init_distributed("tpu")
    weights = tmp_path / "pwc.pth"
    weights.write_bytes(b"")
    with pytest.raises(SvcnetError, match=message):
        make_flow_estimator("pwcnet", pwc_weights=weights, device="tpu")


def test_cap_cpu_threads_lowers_never_raises_and_keeps_one():
    from svcnet.ops.device import cap_cpu_threads

    torch.set_num_threads(4)
    cap_cpu_threads(2)
    assert torch.get_num_threads() == 2
    cap_cpu_threads(8)
    assert torch.get_num_threads() == 2
    cap_cpu_threads(0)
    assert torch.get_num_threads() == 1
