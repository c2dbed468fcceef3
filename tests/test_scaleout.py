"""Scale-out: the DAG's training in 2 processes (torchrun, gloo) against one process with the same global batch
(gradient accumulation), the GPU resources of the rules, and the SLURM profile on a real one-node cluster.

The session's local Snakemake run of the test profile (tests/dag_run.py: tests/test_dag.py's profile, trained by 2
processes at a global batch of 2, every stage on the CPU) serves every check: the 1-process reference trains on its
lmdb, and the SLURM run must reproduce its outputs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from slurm_cluster import slurm_cluster  # noqa: F401 (fixture)
from test_dag import BIN, REFERENCE_PROFILE, TEST_PROFILE, run

from svcnet.train.checkpoints import load_weights

PROFILE = TEST_PROFILE  # trained by 2 processes
REFERENCE = REFERENCE_PROFILE  # the same in one process (accumulating 2 micro-batches per step)
WEIGHTS = ("cpnet/cpnet.pth", "ssnet/ssnet.pth", "ssnet/cpnet.pth")
# The first test may make the shared run or wait for another worker's; the SLURM test runs the pipeline once more.
pytestmark = pytest.mark.timeout(2400)


@pytest.fixture(scope="module")
def local_run(dag_run) -> Path:
    """The whole pipeline of the profile, run locally (training in 2 processes); read only."""
    return dag_run.ws


def run_long(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``run`` for a whole pipeline: up to 20 minutes, output kept for the failure message."""
    env = {**(env or os.environ), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def max_gap(a: Path, b: Path) -> float:
    wa, wb = load_weights(a), load_weights(b)
    assert wa.keys() == wb.keys()
    return max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)


def test_snakemake_launches_training_with_torchrun(local_run):
    out = run(["snakemake", "-n", "-p", "--forceall", "--config", f"profile={PROFILE}"], local_run).stdout
    launch = "torchrun --standalone --nnodes 1 --nproc_per_node 2 -m svcnet train"
    assert f"{launch} cpnet --data data/{PROFILE}/train.lmdb" in out
    assert f"{launch} ssnet --data data/{PROFILE}/train.lmdb" in out
    out = run(["snakemake", "-n", "-p", "--forceall", "--config", f"profile={REFERENCE}"], local_run).stdout
    assert "torchrun" not in out and "svcnet train cpnet --data" in out


def test_paper_profile_trains_with_torchrun_at_the_published_global_batches(local_run, tmp_path):
    over = tmp_path / "gpus.yaml"
    over.write_text("train: {processes: 4}\n")
    out = run(["snakemake", "-n", "-p", "--config", "profile=paper", "--configfile", str(over)], local_run).stdout
    launch = "torchrun --standalone --nnodes 1 --nproc_per_node 4 -m svcnet train"
    assert f"{launch} cpnet --data data/paper/train.lmdb" in out and f"{launch} ssnet --data" in out
    from svcnet.config import load_config
    from svcnet.train.settings import TrainSettings, batch_plan

    ts = load_config([local_run / "config" / "config.yaml", over], "paper").section_as("train", TrainSettings)
    plans = {stage: batch_plan(stage, ts.stage(stage), ts.processes) for stage in ("cpnet1", "cpnet2", "ssnet")}
    assert {k: p.global_batch for k, p in plans.items()} == {"cpnet1": 32, "cpnet2": 32, "ssnet": 8}
    assert {k: p.accumulation for k, p in plans.items()} == {"cpnet1": 2, "cpnet2": 2, "ssnet": 2}


def test_two_processes_from_the_dag_match_one_process_with_the_same_global_batch(local_run, tmp_path):
    train = local_run / "results" / PROFILE / "train"
    log = (local_run / "logs" / PROFILE / "train_cpnet.log").read_text()
    assert "rank 0 of 2" in log and "backend gloo" in log
    for run_dir in ("cpnet/cpnet2", "ssnet/warn", "ssnet"):
        summary = json.loads((train / run_dir / "summary.json").read_text())
        started = json.loads((train / run_dir / "run.json").read_text())
        batch = {"processes": 2, "batch_size": 1, "accumulation": 1, "global_batch": 2}
        assert {k: summary[k] for k in batch} == batch == {k: started[k] for k in batch}, run_dir
    ref = tmp_path / "reference"
    lmdb = f"data/{PROFILE}/train.lmdb"
    common = ["--config", "config/config.yaml", "--profile", REFERENCE, "--no-progress"]
    one = run_long(["svcnet", "train", "cpnet", "--data", lmdb, "--out", str(ref / "cpnet"), *common], local_run)
    assert "DDP" not in one.stderr
    cpnet = str(ref / "cpnet" / "cpnet.pth")
    run_long(
        ["svcnet", "train", "ssnet", "--data", lmdb, "--cpnet", cpnet, "--out", str(ref / "ssnet"), *common], local_run
    )
    summary = json.loads((ref / "cpnet" / "cpnet2" / "summary.json").read_text())
    assert {k: summary[k] for k in ("processes", "accumulation", "global_batch")} == {
        "processes": 1,
        "accumulation": 2,
        "global_batch": 2,
    }
    # `svcnet train` alone starts torchrun for train.processes 2 (how DVC's stages run it): the DAG's weights exactly
    cli = ["svcnet", "train", "cpnet", "--data", lmdb, "--out", str(ref / "cli"), *common[:3], PROFILE, "--no-progress"]
    proc = run_long(cli, local_run)
    assert "train.processes is 2: launching" in proc.stderr and "rank 0 of 2" in proc.stderr
    assert max_gap(train / "cpnet" / "cpnet.pth", ref / "cli" / "cpnet.pth") == 0
    # the same samples in the same steps: equal up to rounding (as tests/test_train_cpnet.py's DDP test), while a
    # run on other samples or another batch would differ by about lr (1e-4) per iteration
    gaps = {rel: max_gap(train / rel, ref / rel) for rel in WEIGHTS}
    assert all(gap < 2e-5 for gap in gaps.values()), gaps


def job_resources(out: str) -> dict[str, set[str]]:
    """rule -> the `resources:` lines of its jobs in a dry run's output."""
    jobs: dict[str, set[str]] = {}
    rule = None
    for line in out.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif line.strip().startswith("resources:") and rule:
            jobs.setdefault(rule, set()).add(line.split(":", 1)[1].strip())
    return jobs


def test_rules_declare_their_gpus(local_run):
    # demo profile (every device auto): one GPU per training process, inference, saliency (PFAN may be picked), LPIPS
    jobs = job_resources(run(["snakemake", "-n", "--forceall"], local_run).stdout)
    gpu = {rule: {r.split("gpu=")[1] for r in res if "gpu=" in r} for rule, res in jobs.items()}
    assert gpu["train_cpnet"] == gpu["train_ssnet"] == gpu["colorize"] == gpu["saliency"] == gpu["evaluate"] == {"1"}
    assert gpu["prepare"] == gpu["pack"] == gpu["scribbles"] == gpu["baseline"] == gpu["report"] == set()
    # the test profile runs everything on the CPU: no job asks for a GPU (a GPU-less SLURM node can run them all)
    jobs = job_resources(run(["snakemake", "-n", "--forceall", "--config", f"profile={PROFILE}"], local_run).stdout)
    assert all("gpu=0" in r or "gpu=" not in r for res in jobs.values() for r in res), jobs


def planned_jobs(ws: Path) -> dict[str, int]:
    """rule -> number of jobs a fresh run of the profile plans (the dry run's job stats), `all` (local) aside."""
    out = run(["snakemake", "-n", "--config", f"profile={PROFILE}"], ws).stdout
    rows = out.split("Job stats:")[1].split("total")[0].splitlines()[3:]
    counts = {rule: int(n) for rule, n in (line.split() for line in rows if line.strip())}
    counts.pop("all", None)
    return counts


def scheduler_jobs(env: dict, rules: list[str]) -> list[dict[str, str]]:
    """Every job the cluster knows (finished ones stay for MinJobAge): id, state, rule (from the executor's comment
    rule_<name>[_wildcards_...]), CPUs."""
    out = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%i|%T|%k|%C"], env=env, capture_output=True, text=True, check=True
    ).stdout
    rows = [dict(zip(("id", "state", "comment", "cpus"), line.split("|"))) for line in out.splitlines() if line]
    by_length = sorted(rules, key=len, reverse=True)
    for row in rows:
        row["rule"] = next((r for r in by_length if row["comment"].startswith(f"rule_{r}")), "")
    return rows


def test_slurm_profile_on_a_real_cluster(slurm_cluster, local_run, tmp_path):  # noqa: F811 (the fixture)
    ws = tmp_path / "svcnet"
    run(["git", "clone", "-q", str(local_run), str(ws)], tmp_path)
    env = {**slurm_cluster["env"], "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    # the profile as a lab uses it, with what a 2-CPU node without accounting needs: job states from squeue, quick
    # polls, and resources that fit the node (two 1-CPU jobs at a time; training: one job, 2 CPUs, 2 processes)
    cmd = [
        *("timeout", "-k", "10", "1200", "snakemake", "--profile", "workflow/profiles/slurm"),
        *("--config", f"profile={PROFILE}", "--jobs", "2", "--slurm-status-command", "squeue"),
        *("--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1"),
        *("--latency-wait", "5", "--default-resources", "mem_mb=2000", "cpus_per_task=1", "runtime=30"),
        *("--set-resources", "train_cpnet:cpus_per_task=2", "train_ssnet:cpus_per_task=2"),
        *("train_cpnet:mem_mb=4000", "train_ssnet:mem_mb=4000"),
    ]
    planned = planned_jobs(ws)
    assert planned["train_cpnet"] == planned["train_ssnet"] == 1 and planned["colorize"] == 2, planned
    proc = subprocess.run(cmd, cwd=ws, env=env, capture_output=True, text=True, timeout=1300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = scheduler_jobs(env, list(planned))
    done = [j for j in jobs if j["state"] == "COMPLETED"]
    assert len(done) == len(jobs) == sum(planned.values()), jobs  # one SLURM job per job of the plan, all completed
    assert {r: sum(j["rule"] == r for j in done) for r in planned} == planned, jobs
    assert all(j["cpus"] == "2" for j in done if j["rule"].startswith("train_")), jobs
    log = (ws / "logs" / PROFILE / "train_cpnet.log").read_text()
    assert "rank 0 of 2" in log and "backend gloo" in log
    # the same outputs as the local run: trained weights, scores
    for rel in WEIGHTS:
        assert max_gap(ws / "results" / PROFILE / "train" / rel, local_run / "results" / PROFILE / "train" / rel) == 0
    for method in ("gray", "levin", "cpnet", "svcnet"):
        rel = f"metrics/{PROFILE}_{method}.json"
        assert json.loads((ws / rel).read_text()) == json.loads((local_run / rel).read_text()), rel
