"""CPNet training end to end on real (tiny) frames: exact resume after a kill, NaN stop, DDP with 2 gloo processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from train_helpers import REPO, make_tiny_lmdb, params_equal

from svcnet.train.checkpoints import latest_checkpoint, load_checkpoint, load_weights
from svcnet.train.distributed import DistInfo
from svcnet.train.settings import ScribbleSettings, StageSettings, TrainSettings

SVCNET = [sys.executable, "-m", "svcnet"]
STAGE = StageSettings(
    unit="iteration", duration=4, batch_size=1, size=(32, 32), lr=1e-4, save_every=2, lambda_seg=0.1, log_every=1
)
SETTINGS = TrainSettings(
    num_workers=0, deterministic=True, cpnet1=replace(STAGE, duration=0), cpnet2=STAGE, scribbles=ScribbleSettings()
)


@pytest.fixture(scope="module")
def lmdb(tmp_path_factory) -> Path:
    return make_tiny_lmdb(tmp_path_factory.mktemp("cpnet_data"), frames=6)


def _config_file(tmp: Path, stage: StageSettings, **train) -> Path:
    """A YAML merged over config/config.yaml with this test's cpnet settings."""
    st = {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in stage.__dict__.items()
        if k in ("unit", "duration", "batch_size", "size", "lr", "save_every", "lambda_seg", "log_every")
    }
    data = {
        "profile": "test",
        "profiles": {"test": {}},
        "train": {"num_workers": 0, "deterministic": True, "cpnet1": {"duration": 0}, "cpnet2": st, **train},
    }
    path = tmp / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _env() -> dict:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


def _train_in_process(
    lmdb: Path, out: Path, stop_after: int | None = None, resume: bool = False, save_every: int | None = None
):
    from svcnet.train.stages import train_cpnet_stage

    return train_cpnet_stage(
        SETTINGS,
        "cpnet2",
        lmdb,
        out,
        DistInfo(),
        resume=resume,
        stop_after=stop_after,
        progress=False,
        save_every=save_every,
    )


def test_killed_run_resumes_to_the_same_weights(lmdb, tmp_path):
    torch.set_num_threads(1)
    full = _train_in_process(lmdb, tmp_path / "full", save_every=4)  # one checkpoint (they are ~1 GB)
    assert full.completed and full.iteration == 4
    reference = load_weights(tmp_path / "full" / "cpnet.pth")

    # the same run through the CLI, killed (SIGKILL) as soon as its first checkpoint is on disk, then resumed
    cfg = _config_file(tmp_path, STAGE)
    out = tmp_path / "killed"
    cmd = [
        *SVCNET,
        "train",
        "cpnet",
        "--data",
        str(lmdb),
        "--out",
        str(out),
        "--config",
        str(REPO / "config" / "config.yaml"),
        "--config",
        str(cfg),
        "--stage",
        "cpnet2",
        "--no-progress",
        "--device",
        "cpu",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pointer = out / "cpnet2" / "checkpoints" / "latest.txt"
    deadline = time.time() + 60
    while not pointer.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "cpnet2" / "cpnet.pth").exists()
    killed_at = int(latest_checkpoint(out / "cpnet2").name.split("_")[1])
    assert 1 <= killed_at < 4
    run = subprocess.run([*cmd, "--resume"], cwd=REPO, env=_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert params_equal(load_weights(out / "cpnet2" / "cpnet.pth"), reference)
    assert params_equal(load_weights(out / "cpnet.pth"), reference)
    assert (out / "cpnet2" / "cpnet.pth").read_bytes() == (tmp_path / "full" / "cpnet.pth").read_bytes()
    # the CSV describes one uninterrupted run: iterations 1..4 once each
    rows = (out / "cpnet2" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    assert (out / "cpnet2" / "loss.png").stat().st_size > 0
    # the training state beside the weights holds optimizer, scheduler, RNG and iteration
    _, state = load_checkpoint(latest_checkpoint(out / "cpnet2"), ["cpnet"])
    assert state["iteration"] == 4 and {"optimizer", "scheduler", "rng"} <= state.keys()


def test_in_process_stop_and_resume_equals_uninterrupted(lmdb, tmp_path):
    torch.set_num_threads(1)
    half = _train_in_process(lmdb, tmp_path / "run", stop_after=2)
    assert not half.completed and half.iteration == 2
    rest = _train_in_process(lmdb, tmp_path / "run", resume=True)
    assert rest.start_iteration == 2 and rest.completed
    summary = json.loads((rest.out_dir / "summary.json").read_text())
    assert summary["iterations"] == 4 and summary["iterations_this_run"] == 2  # what this (resumed) run did
    assert summary["peak_memory_mb"] > 50 and summary["peak_memory"] in ("process peak RSS", "CUDA max allocated")
    full = _train_in_process(lmdb, tmp_path / "full", save_every=4)
    assert params_equal(load_weights(rest.weights["cpnet"]), load_weights(full.weights["cpnet"]))


class _NaNAt(torch.utils.data.Dataset):
    """Wraps a training set; global sample ``bad`` gets a NaN target (as a corrupt frame would)."""

    def __init__(self, ds, bad: int) -> None:
        self.ds, self.bad = ds, bad

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, n: int):
        item = self.ds[n]
        if n == self.bad:
            item["ab"] = torch.full_like(item["ab"], float("nan"))
        return item


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(lmdb, tmp_path):
    from svcnet.models.cpnet import CPNet
    from svcnet.train.cpnet_data import CPNetImages
    from svcnet.train.cpnet_step import CPNetTrainStep
    from svcnet.train.loop import LoopSettings, TrainingDiverged, TrainLoop
    from svcnet.train.scribble_fns import image_scribble_fn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    ds = _NaNAt(CPNetImages(lmdb, (32, 32), image_scribble_fn(ScribbleSettings())), bad=2)  # iteration 3
    loop = TrainLoop(
        CPNetTrainStep(CPNet(), lr=1e-4), ds, LoopSettings(iterations=4, save_every=2, progress=False), tmp_path
    )
    with pytest.raises(TrainingDiverged) as err:
        loop.run()
    msg = str(err.value)
    assert "NaN/inf at iteration 3" in msg and "iter_00000002" in msg and "\n" not in msg
    assert latest_checkpoint(tmp_path).name == "iter_00000002"
    weights, _ = load_checkpoint(latest_checkpoint(tmp_path), ["cpnet"])
    assert all(torch.isfinite(v).all() for v in weights["cpnet"].values())
    assert not (tmp_path / "cpnet.pth").exists()


def test_ddp_two_gloo_processes_match_one_process_with_twice_the_batch(lmdb, tmp_path):
    stage = replace(STAGE, duration=2, save_every=0)

    def cmd(out: str, st: StageSettings, name: str) -> list[str]:
        (tmp_path / name).mkdir()
        cfg = _config_file(tmp_path / name, st)
        return [
            "train",
            "cpnet",
            "--out",
            str(tmp_path / out),
            "--data",
            str(lmdb),
            "--config",
            str(REPO / "config" / "config.yaml"),
            "--config",
            str(cfg),
            "--stage",
            "cpnet2",
            "--no-progress",
            "--device",
            "cpu",
        ]

    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nnodes",
            "1",
            "--nproc_per_node",
            "2",
            "-m",
            "svcnet",
            *cmd("ddp", stage, "c1"),
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "rank 0 of 2" in ddp.stderr and "backend gloo" in ddp.stderr
    single = subprocess.run(
        [*SVCNET, *cmd("one", replace(stage, batch_size=2), "c2")],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    a = load_weights(tmp_path / "ddp" / "cpnet.pth")
    b = load_weights(tmp_path / "one" / "cpnet.pth")
    gap = max((a[k] - b[k]).abs().max().item() for k in a)
    # Equal up to rounding: two batch-1 convolutions and one batch-2 convolution use different oneDNN kernels, and
    # Adam turns those last-bit gradient differences into weight differences of a few 1e-6 (docs/measurements.md §9). A
    # process training on the wrong samples would differ by about the step size, lr = 1e-4, per iteration.
    assert gap < 2e-5, gap
