"""Byte-identical outputs: checkpoints named after their own file, a killed pack or training run re-run to the same
bytes, and the whole test profile (Snakemake, `dagtest` of tests/test_dag.py) run twice to the same bytes: a run of
its own against the session's shared run (tests/dag_run.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from dag_run import output_hashes, run_pipeline
from test_dag import TEST_PROFILE, make_workspace
from train_helpers import DEMO, REPO, make_tiny_lmdb

from svcnet.data.lmdb_pack import pack_clips
from svcnet.errors import ConfigError
from svcnet.models.checkpoint import save_torch_file
from svcnet.train.checkpoints import save_checkpoint, save_weights

SVCNET = [sys.executable, "-m", "svcnet"]


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


# ------------------------------------------------------------------------------------- killed runs, run twice
def _files(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative paths)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def test_pack_killed_mid_way_and_run_again_is_byte_identical(tmp_path):
    clips = tmp_path / "clips"
    for name in ("dog", "car-shadow"):
        for kind in ("frames", "masks"):
            (clips / name / kind).mkdir(parents=True)
            for f in sorted((DEMO / name / kind).iterdir())[:5]:
                shutil.copyfile(f, clips / name / kind / f.name)
    full, again = tmp_path / "full.lmdb", tmp_path / "again.lmdb"
    pack_clips(clips, full)
    crash = textwrap.dedent(f"""
        import os, signal
        from svcnet.data.lmdb_pack import pack_clips
        def die(n):
            if n == 12:  # a deterministic point: the second clip's transaction is open
                os.kill(os.getpid(), signal.SIGKILL)
        pack_clips({str(clips)!r}, {str(again)!r}, on_record=die)
    """)
    proc = subprocess.run([sys.executable, "-c", crash], env=_env(), capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not again.exists() and any(p.name.startswith(".again.lmdb.") for p in tmp_path.iterdir())
    pack_clips(clips, again)
    assert _files(again) == _files(full)  # every file, data.mdb included, byte for byte
    assert sorted(_files(full)) == ["data.mdb", "manifest.json", "meta_info.txt", "meta_info_masks.txt"]


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


def _ssnet_command(lmdb: Path, cpnet: Path, out: Path, cfg: Path) -> list[str]:
    return [
        *SVCNET,
        "train",
        "ssnet",
        "--data",
        str(lmdb),
        "--cpnet",
        str(cpnet),
        "--out",
        str(out),
        "--config",
        str(REPO / "config" / "config.yaml"),
        "--config",
        str(cfg),
        "--no-progress",
        "--device",
        "cpu",
    ]


@pytest.mark.timeout(1200)  # three SSNet training runs
def test_ssnet_killed_after_a_checkpoint_resumes_to_the_same_bytes(tmp_path):
    from svcnet.models.checkpoint import save_official
    from svcnet.models.cpnet import CPNet

    lmdb = make_tiny_lmdb(tmp_path, clips=("dog",), frames=8, size=(64, 96))
    torch.manual_seed(0)
    cpnet = save_official(CPNet(), tmp_path / "cpnet_start.pth")
    stage = {"unit": "iteration", "size": [32, 48], "save_every": 1, "log_every": 1}
    train = {
        "num_workers": 0,
        "threads": 1,
        "warn": {**stage, "duration": 1, "lr_step": 0},
        "ssnet": {**stage, "duration": 2, "lr_cpnet": 0.0, "lambda_sr": 1.0, "lr_step": 0},
    }
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({"profile": "test", "profiles": {"test": {}}, "train": train}))

    full = tmp_path / "full"
    run = subprocess.run(_ssnet_command(lmdb, cpnet, full, cfg), cwd=REPO, env=_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]

    # the same run killed (SIGKILL) as soon as SSNet's first checkpoint is on disk, then resumed
    out = tmp_path / "killed"
    cmd = _ssnet_command(lmdb, cpnet, out, cfg)
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pointer = out / "checkpoints" / "latest.txt"
    while not pointer.exists() and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "ssnet.pth").exists()
    run = subprocess.run([*cmd, "--resume"], cwd=REPO, env=_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "resumed from" in run.stdout + run.stderr
    for name in ("ssnet.pth", "cpnet.pth", "warn/warn.pth", "checkpoints/iter_00000002/state.pt"):
        assert (out / name).read_bytes() == (full / name).read_bytes(), name


@pytest.fixture()
def dag_workspace(tmp_path) -> Path:
    ws = make_workspace(tmp_path / "svcnet")
    yield ws
    shutil.rmtree(ws, ignore_errors=True)  # training checkpoints


@pytest.mark.timeout(2400)  # two runs of the whole DAG (the shared one may still be running on another worker)
def test_the_test_profile_run_twice_gives_the_same_bytes(dag_workspace, request):
    # this run first, so that it overlaps the shared run when another worker is making that one
    run_pipeline(dag_workspace, TEST_PROFILE)
    second = output_hashes(dag_workspace, TEST_PROFILE)
    first = request.getfixturevalue("dag_run").hashes
    metrics = {rel: digest for rel, digest in first.items() if rel.startswith("metrics/")}
    print("\n".join(f"{digest}  {rel}" for rel, digest in sorted(metrics.items())))  # the closing note quotes them
    assert len(metrics) == 4
    kinds = {Path(rel).suffix for rel in first}
    assert {".json", ".pth", ".pt", ".png", ".mdb", ".csv", ".mp4"} <= kinds, kinds
    assert sorted(first) == sorted(second)
    assert [rel for rel in sorted(first) if first[rel] != second[rel]] == []


# --------------------------------------------------------------------------------------- threads, instruction set
def test_cpu_settings_are_applied_before_the_first_kernel_and_recorded():
    code = textwrap.dedent("""
        import json, torch
        from svcnet.train.compute import configure_cpu
        print(json.dumps(configure_cpu(3, "avx2")))
        print(torch.get_num_threads())
    """)
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    record, threads = proc.stdout.splitlines()
    assert json.loads(record) == {"threads": 3, "cpu_isa": "avx2", "cpu_capability": "AVX2", "torch": torch.__version__}
    assert threads == "3"


def test_an_unknown_instruction_set_or_a_late_cap_is_refused():
    from svcnet.train.compute import isa_environment

    with pytest.raises(ConfigError, match="train.cpu_isa must be one of native, avx2"):
        isa_environment("avx512")
    assert isa_environment("native") == {}
    code = textwrap.dedent("""
        import torch
        from svcnet.errors import ConfigError
        from svcnet.train.compute import configure_cpu
        torch.ones(4).add_(1)  # a kernel ran: the native instruction set is chosen
        try:
            configure_cpu(0, "avx2")
        except ConfigError as exc:
            print(exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, cwd=REPO)
    native = torch.backends.cpu.get_cpu_capability()
    if native == "AVX2":
        pytest.skip("this CPU's own kernels are AVX2")
    assert f"the CPU kernels were already chosen ({native})" in proc.stdout, proc.stdout + proc.stderr


def test_the_report_reads_the_training_cpu_settings(tmp_path):
    from svcnet.evaluate.report_training import load_training_run

    (tmp_path / "log.csv").write_text("iteration,loss,it_per_s\n1,0.5,2.0\n2,0.4,2.0\n")
    meta = {"stage": "cpnet2", "threads": 2, "cpu_isa": "avx2", "cpu_capability": "AVX2", "torch": "2.x"}
    (tmp_path / "run.json").write_text(json.dumps({"meta": meta}))
    assert load_training_run(tmp_path).cpu == {"threads": 2, "cpu_isa": "avx2", "cpu_capability": "AVX2"}


def test_equal_states_give_equal_bytes_whichever_string_objects_they_hold(tmp_path):
    literal = {"groups": [{"betas": (0.5, 0.999)}], "settings": {"betas": (0.5, 0.999)}}
    rebuilt = {"groups": [{"".join(["be", "tas"]): (0.5, 0.999)}], "settings": {"betas": (0.5, 0.999)}}
    assert next(iter(rebuilt["groups"][0])) is not "betas"  # noqa: F632 (identity is the point)
    save_torch_file(literal, tmp_path / "a" / "state.pt")
    save_torch_file(rebuilt, tmp_path / "b" / "state.pt")
    assert (tmp_path / "a" / "state.pt").read_bytes() == (tmp_path / "b" / "state.pt").read_bytes()
