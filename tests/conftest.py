"""Shared test fixtures: repository paths, the optional ../shared folder, fake official checkpoints, GPU skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path | None:
    env = os.environ.get("SVCNET_SHARED")
    cand = Path(env) if env else REPO.parent / "shared"
    return cand if cand.is_dir() else None


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture
def one_torch_thread():
    """One torch thread for tests on small tensors (avoids OpenMP oversubscription on a 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ../shared folder (spec, parity fixtures, real data); tests needing it skip when absent."""
    d = _shared_dir()
    if d is None:
        pytest.skip("../shared is not present (set SVCNET_SHARED to its path)")
    return d


@pytest.fixture(scope="session")
def parity_dir(shared_dir: Path) -> Path:
    d = shared_dir / "fixtures" / "parity"
    if not (d / "inputs.pt").is_file():
        pytest.skip("parity fixtures not present")
    return d


@pytest.fixture(scope="session")
def realdata_dir(shared_dir: Path) -> Path:
    d = shared_dir / "realdata"
    if not d.is_dir():
        pytest.skip("../shared/realdata not present")
    return d


FAKE_CKPT_FILES = (
    "cpnet_epoch1000_batchsize32.pth",
    "ssnet_epoch2000_bs8.pth",
    "pwcNet-default.pytorch",
    "vgg16_pretrained.pth",
)


@pytest.fixture(scope="session")
def fake_ckpt_dir(shared_dir: Path, request) -> Path:
    """Checkpoints in the official layout with the deterministic values of shared/tools/make_fake_ckpts.py (seed 0),
    generated once and cached in pytest's cache folder."""
    tool = shared_dir / "tools" / "make_fake_ckpts.py"
    if not tool.is_file():
        pytest.skip("shared/tools/make_fake_ckpts.py not present")
    out = Path(request.config.cache.mkdir("fake_ckpts_seed0"))
    with FileLock(out.with_suffix(".lock")):  # pytest-xdist workers share the cache folder
        if not all((out / f).is_file() for f in FAKE_CKPT_FILES) or not (out / "DONE").is_file():
            subprocess.run([sys.executable, str(tool), str(out), "--seed", "0"], check=True)
            (out / "DONE").write_text("ok\n")
    return out


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Each test starts with the process's torch thread count: code under test may set it (training's
    ``train.threads``), and oneDNN kernels built at one count give other last bits at another."""
    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
