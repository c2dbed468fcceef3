"""Shared test fixtures: repository paths, the optional ../shared folder, fake official checkpoints, GPU skipping."""

from __future__ import annotations

import os
import shutil
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


# The test files that run whole pipelines, longest first: pytest-xdist (--dist loadfile --no-loadscope-reorder, as
# scripts/test.sh runs it) hands files out in collection order, so these start first and the short files fill the
# other worker meanwhile.
LONG_FILES = ("test_paper_dag.py", "test_scaleout.py", "test_dag.py", "test_determinism.py", "test_dvc.py")


def _file_rank(item) -> int:
    name = item.path.name
    return LONG_FILES.index(name) if name in LONG_FILES else len(LONG_FILES)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_file_rank)  # stable: the order inside a file and among the other files is kept
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


@pytest.fixture(scope="session")
def random_weights_dir(request) -> Path:
    """Random CPNet, SSNet and PWC-Net (seed 0) of this repository's networks, saved in the official layout under the
    source registry's file names (what ``svcnet colorize --weights`` reads); made once, in pytest's cache folder,
    without ../shared. For tests of the inference path, not of the values (parity tests use ``fake_ckpt_dir``)."""
    from svcnet.infer.models import load_cpnet, load_pwcnet, load_ssnet
    from svcnet.models.checkpoint import save_official
    from svcnet.sources import get_source

    out = Path(request.config.cache.mkdir("random_official_weights_seed0"))
    with FileLock(out.with_suffix(".lock")):
        if not (out / "DONE").is_file():
            cpu = torch.device("cpu")
            for name, load in (("cpnet", load_cpnet), ("ssnet", load_ssnet), ("pwcnet", load_pwcnet)):
                torch.manual_seed(0)
                save_official(load(None, cpu), out / get_source(name).file)
            (out / "DONE").write_text("ok\n")
    return out


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs mounted in a temporary folder (a disk that fills up); skipped where mounting is not allowed."""
    mnt = tmp_path / "small_disk"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here to make a small tmpfs")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here (needs root): {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Each test starts with the process's torch thread count: code under test may set it (training's
    ``train.threads``), and oneDNN kernels built at one count give other last bits at another."""
    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def dag_run(tmp_path_factory):
    """The session's one Snakemake run of the test profile, shared by the xdist workers (tests/dag_run.py)."""
    from dag_run import shared_run
    from test_dag import TEST_PROFILE, make_workspace

    return shared_run(tmp_path_factory, TEST_PROFILE, make_workspace)


def pytest_sessionfinish(session):
    """The controller (or a run without xdist) removes the shared run: a few GB of training checkpoints."""
    if hasattr(session.config, "workerinput"):
        return
    from dag_run import FOLDER

    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        shutil.rmtree(factory.getbasetemp() / FOLDER, ignore_errors=True)
