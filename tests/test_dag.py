"""The DAG: Snakemake lint, SLURM-profile dry run, shell commands, a real run and a no-op re-run; DVC repro in a
fresh clone. Runs on a copy of this working tree (tracked and new files) in a temporary git repository."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def project_files() -> list[str]:
    """Files of the working tree that belong to the project: tracked ones and new ones git does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    ws = tmp_path_factory.mktemp("ws") / "svcnet"
    for rel in project_files():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, ws / rel)
    run(["git", "init", "-q"], ws)
    run(["git", "add", "-A"], ws)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "snapshot"], ws)
    return ws


def test_lint_is_clean(workspace):
    proc = run(["snakemake", "--lint"], workspace, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_slurm_profile_dry_run(workspace):
    proc = run(["snakemake", "-n", "--profile", "workflow/profiles/slurm"], workspace)
    out = proc.stdout + proc.stderr
    assert "Using profile workflow/profiles/slurm" in out
    for rule in ("prepare", "pack", "all"):
        assert f"\n{rule} " in out


def test_every_job_runs_the_svcnet_command_with_a_log(workspace):
    out = run(["snakemake", "-n", "-p", "--forceall"], workspace).stdout
    commands = [line.split("Shell command:", 1)[1].strip() for line in out.splitlines() if "Shell command:" in line]
    commands = [c for c in commands if c != "None"]  # rule all
    assert len(commands) >= 3
    for cmd in commands:
        assert cmd.startswith("svcnet "), cmd
        assert "logs/demo/" in cmd, cmd
        if cmd.startswith(("svcnet prepare", "svcnet pack")):
            assert "--config config/config.yaml --profile demo" in cmd and cmd.endswith("2>&1")


def test_config_on_the_command_line(workspace):
    out = run(["snakemake", "-n", "--config", "profile=small"], workspace).stdout
    assert "data/small/train.lmdb" in out
    proc = run(["snakemake", "-n", "--config", "pack={png_compression: 3, maps: [masks]}"], workspace, check=False)
    assert proc.returncode != 0
    assert "only `profile` can be set with --config" in proc.stdout + proc.stderr
    # --configfile files are passed on to the commands, merged over config/config.yaml as Snakemake merges them
    (workspace / "over.yaml").write_text("profile: small\ndata:\n  interpolation: cubic\n")
    out = run(["snakemake", "-n", "-p", "--configfile", "over.yaml"], workspace).stdout
    (workspace / "over.yaml").unlink()
    assert "svcnet prepare --config config/config.yaml --config over.yaml --profile small --split eval" in out


# A bounded slice of the real DAG, so the test stays fast on 2 CPU cores: data preparation, saliency, lmdb packing,
# scribbles, the grayscale baseline and its evaluation (training and network inference are covered by their own tests
# and by `bash scripts/demo.sh`).
SNAKE_TARGETS = ["data/demo/train.lmdb", "metrics/demo_gray.json"]
DVC_TARGETS = ["pack", "evaluate@gray"]


def test_run_then_rerun_does_nothing(workspace):
    run(["snakemake", "--cores", "2", *SNAKE_TARGETS], workspace)
    assert (workspace / "data/demo/eval/manifest.json").is_file()
    assert (workspace / "data/demo/train.lmdb/data.mdb").is_file()
    assert (workspace / "logs/demo/pack_train.log").is_file()
    assert (workspace / "metrics/demo_gray.json").is_file()
    out = run(["snakemake", "-n", *SNAKE_TARGETS], workspace).stdout
    assert "Nothing to be done" in out
    # editing a stage's config section re-runs that stage (and what depends on it) only
    cfg = workspace / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("png_compression: 1", "png_compression: 2"))
    out = run(["snakemake", "-n", *SNAKE_TARGETS], workspace).stdout
    assert "rule pack:" in out and "rule prepare:" not in out


def test_dvc_repro_in_a_fresh_clone(workspace, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(workspace), str(clone)], tmp_path)
    first = run(["dvc", "repro", *DVC_TARGETS], clone).stdout
    assert (clone / "data/demo/eval/manifest.json").is_file()
    assert (clone / "data/demo/train.lmdb/manifest.json").is_file()
    assert (clone / "metrics/demo_gray.json").is_file()
    assert (clone / "dvc.lock").is_file()
    ran = first.count("Running stage")
    assert ran >= 6, first
    out = run(["dvc", "repro", *DVC_TARGETS], clone).stdout
    assert "Running stage" not in out, out
    assert out.count("didn't change, skipping") == ran
    assert "up to date" in run(["dvc", "status", *DVC_TARGETS], clone).stdout
