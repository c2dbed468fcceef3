"""The DAG: Snakemake lint, SLURM-profile dry run, shell commands, the whole pipeline end to end (prepare → ... →
report) with a no-op re-run in Snakemake, and the same in DVC in a fresh clone. Runs on a copy of this working tree
(tracked and new files) in a temporary git repository. The end-to-end runs use the profile `dagtest` added to that
copy's config: one embedded clip, 8 frames at 64×112, a few real training iterations in 2 processes (CI time on 2
cores); the demo profile itself is run by `bash scripts/demo.sh`. The Snakemake run is the session's shared one
(tests/dag_run.py), also used by tests/test_determinism.py and tests/test_scaleout.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc_share import check_shared_cache

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Every stage for real, on a small slice: one clip, 8 frames at 64x112, every stage on the CPU; training in 2 processes
# (torchrun, gloo) at a global batch of 2 (batch 1 per process) for 2 + 1 + 1 iterations of CPNet stage 2, WARN and
# SSNet (CPNet stage 1 is left out: the same training code, run from the DAG by tests/test_paper_dag.py).
TEST_PROFILE = "dagtest"
REFERENCE_PROFILE = "dagtest1"  # the same in 1 process, accumulating 2 micro-batches per step (tests/test_scaleout.py)
TRAIN_STAGES = ("cpnet1", "cpnet2", "warn", "ssnet")
TEST_SETTINGS = {
    "data": {
        "height": 64,
        "width": 112,
        "train": {"sequences": ["blackswan"], "max_frames": 8},
        "eval": {"sequences": ["blackswan"], "max_frames": 8},
    },
    "scribbles": {"points": 10, "width": 3},
    "infer": {"device": "cpu"},
    "saliency": {"device": "cpu"},
    "evaluate": {"device": "cpu"},
    "train": {
        "num_workers": 0,
        "processes": 2,
        "device": "cpu",
        "deterministic": True,
        "cpnet1": {
            "unit": "iteration",
            "duration": 0,
            "batch_size": 1,
            "global_batch": 2,
            "size": [64, 64],
            "save_every": 0,
            "log_every": 1,
        },
        "cpnet2": {
            "unit": "iteration",
            "duration": 2,
            "batch_size": 1,
            "global_batch": 2,
            "size": [64, 112],
            "save_every": 0,
            "log_every": 1,
        },
        "warn": {
            "unit": "iteration",
            "duration": 1,
            "batch_size": 1,
            "global_batch": 2,
            "size": [64, 112],
            "save_every": 0,
            "log_every": 1,
        },
        "ssnet": {
            "unit": "iteration",
            "duration": 1,
            "size": [64, 112],
            "lr_step": 0,
            "lambda_sr": 1.0,
            "global_batch": 2,
            "save_every": 0,
            "log_every": 1,
        },
    },
}
METHODS = ("gray", "levin", "cpnet", "svcnet")
OFFICIAL = ("official_cpnet", "official_svcnet")  # the released weights: in the paper profile's evaluate.methods
# What the whole pipeline leaves behind (the same paths for Snakemake and DVC).
FINAL = [
    f"data/{TEST_PROFILE}/train.lmdb/data.mdb",
    f"results/{TEST_PROFILE}/train/ssnet/ssnet.pth",
    *[f"results/{TEST_PROFILE}/infer/{m}/blackswan/metadata.json" for m in METHODS],
    *[f"metrics/{TEST_PROFILE}_{m}.json" for m in METHODS],
    f"reports/{TEST_PROFILE}/index.html",
]
DVC_STAGES = [
    "preflight",
    "config",
    "prepare@train",
    "prepare@eval",
    "saliency",
    "scribbles",
    "pack",
    "train_cpnet",
    "train_ssnet",
    "baseline@gray",
    "baseline@levin",
    "colorize_cpnet",
    "colorize_svcnet",
    *[f"colorize_official@{m}" for m in OFFICIAL],
    *[f"evaluate@{m}" for m in METHODS],
    *[f"evaluate_official@{m}" for m in OFFICIAL],
    "report",
]


def run(
    args: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    """Run a command with the venv's tools first on PATH and one OpenMP thread (``env``: extra variables)."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def project_files() -> list[str]:
    """Files of the working tree that belong to the project: tracked ones and new ones git does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("ws") / "svcnet")


def make_workspace(ws: Path) -> Path:
    """A git repository at ``ws`` holding this working tree, with the test profile and its 1-process reference added
    to its config."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for rel in project_files():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, ws / rel)
    cfg_path = ws / "config" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["profiles"][TEST_PROFILE] = TEST_SETTINGS
    cfg["profiles"][REFERENCE_PROFILE] = {**TEST_SETTINGS, "train": {**TEST_SETTINGS["train"], "processes": 1}}
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
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
    # the small profile reads the real DAVIS clips beside the repository; a missing folder is a clear error
    davis = workspace.parent / "shared" / "realdata" / "davis2016"
    assert not davis.exists()
    proc = run(["snakemake", "-n", "--config", "profile=small"], workspace, check=False)
    assert proc.returncode != 0
    assert (
        "root of profile 'small' is '../shared/realdata/davis2016', which is not a folder: set it"
        in proc.stdout + proc.stderr
    )
    davis.mkdir(parents=True, exist_ok=True)
    out = run(["snakemake", "-n", "--config", "profile=small"], workspace).stdout
    assert "data/small/train.lmdb" in out
    proc = run(["snakemake", "-n", "--config", "pack={png_compression: 3, maps: [masks]}"], workspace, check=False)
    assert proc.returncode != 0
    assert "only `profile` and `allow_missing` can be set with --config" in proc.stdout + proc.stderr
    # --configfile files are passed on to the commands, merged over config/config.yaml as Snakemake merges them
    (workspace / "over.yaml").write_text("profile: small\ndata:\n  interpolation: cubic\n")
    out = run(["snakemake", "-n", "-p", "--configfile", "over.yaml"], workspace).stdout
    (workspace / "over.yaml").unlink()
    assert "svcnet prepare --config config/config.yaml --config over.yaml --profile small --split eval" in out


def test_paper_profile_plans_every_job_in_one_call(workspace):
    # a fresh checkout without any release file: the clip lists shipped with the repository plan every per-clip job
    out = run(["snakemake", "-n", "--config", "profile=paper"], workspace).stdout
    counts = dict(
        line.split() for line in out.split("Job stats:")[1].split("total")[0].splitlines()[3:] if line.strip()
    )
    assert counts == {
        "prepare": "2",
        "saliency": "156",  # the DAVIS-Videvo train clips
        "pack": "1",
        "train_cpnet": "1",
        "train_ssnet": "1",
        "scribbles": "50",  # 30 DAVIS + 20 videvo validation clips
        "baseline": "100",  # gray, levin
        "colorize": "200",  # official_cpnet, official_svcnet, cpnet, svcnet
        "evaluate": "6",
        "report": "1",
        "all": "1",
    }, out
    out = run(["snakemake", "-n", "-p", "--config", "profile=paper"], workspace).stdout
    assert (
        "svcnet colorize data/paper/eval/DAVIS/blackswan/frames --scribbles results/paper/scribbles/gt/DAVIS/blackswan "
        "--method svcnet --weights weights --size 256x448"
    ) in out
    assert "--out results/paper/infer/official_svcnet/DAVIS/blackswan" in out
    assert "svcnet scribbles data/paper/eval --clip videvo/" in out


def test_paper_profile_stops_before_its_first_job(workspace):
    proc = run(["snakemake", "--cores", "1", "--config", "profile=paper"], workspace, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "MISSING: evaluate.methods: official_svcnet -> weights/ssnet_epoch2000_bs8.pth" in out, out
    assert "MISSING: data.eval.root -> resources/svcnet/davis_videvo_val_jpg" in out
    assert "no job was started" in out
    assert not (workspace / "data" / "paper").exists() and not (workspace / "logs" / "paper").exists()
    # the opt-out runs what can run: here nothing (no release data), so no job at all
    out = run(["snakemake", "-n", "--config", "profile=paper", "allow_missing=true"], workspace).stdout
    assert "rule prepare:" not in out and "rule report:" not in out


def test_dvc_paper_profile_stops_at_the_preflight(workspace, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(workspace), str(clone)], tmp_path)
    cfg = clone / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("profile: demo\n", "profile: paper\n", 1))
    proc = run(["dvc", "repro"], clone, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    ran = [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")]
    assert ran == ["preflight"], out
    assert "MISSING: train.init.warn" in out and "nothing was started" in out
    assert not (clone / "data" / "paper").exists()


def check_outputs(root: Path) -> None:
    """The whole pipeline ran: lmdb, trained weights, the four methods' outputs and scores, the report."""
    for rel in FINAL:
        assert (root / rel).is_file(), rel
    for method in METHODS:
        scores = json.loads((root / f"metrics/{TEST_PROFILE}_{method}.json").read_text())
        assert scores["method"] == method and 5.0 < scores["psnr"] < 60.0, scores
    svcnet = json.loads((root / f"results/{TEST_PROFILE}/infer/svcnet/blackswan/metadata.json").read_text())
    assert svcnet["work_size"] == [64, 112]
    assert svcnet["lightness"] == svcnet["request"]["lightness"] == "input"  # infer.lightness of the config
    assert svcnet["weights"]["ssnet"]["path"].endswith(f"results/{TEST_PROFILE}/train/ssnet/ssnet.pth")
    html = (root / f"reports/{TEST_PROFILE}/index.html").read_text()
    assert all(method in html for method in METHODS)


@pytest.mark.timeout(2400)  # the shared run may be made here, or awaited while another worker makes it
def test_run_then_rerun_does_nothing(dag_run, tmp_path):
    profile = ["--config", f"profile={TEST_PROFILE}"]
    check_outputs(dag_run.ws)
    assert (dag_run.ws / f"logs/{TEST_PROFILE}/train_ssnet.log").is_file()
    out = run(["snakemake", "-n", *profile], dag_run.ws).stdout
    assert "Nothing to be done" in out
    # editing a stage's config section re-runs that stage (and what depends on it) only; on a copy (other tests read
    # the shared run), training checkpoints left out (not outputs)
    ws = tmp_path / "svcnet"
    shutil.copytree(dag_run.ws, ws, symlinks=True, ignore=shutil.ignore_patterns("checkpoints"))
    cfg = ws / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("png_compression: 1", "png_compression: 2"))
    out = run(["snakemake", "-n", *profile], ws).stdout
    assert "rule pack:" in out and "rule prepare:" not in out and "rule scribbles:" not in out
    assert "rule train_cpnet:" in out and "rule report:" in out
    shutil.rmtree(ws)


@pytest.mark.timeout(1800)  # the whole pipeline in DVC, then a push and pull
def test_dvc_repro_in_a_fresh_clone(workspace, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(workspace), str(clone)], tmp_path)
    cfg = clone / "config" / "config.yaml"  # as `dvc exp run -S profile=dagtest` would set it
    cfg.write_text(cfg.read_text().replace("profile: demo\n", f"profile: {TEST_PROFILE}\n", 1))
    first = run(["dvc", "repro"], clone).stdout
    ran = sorted(line.split("'")[1] for line in first.splitlines() if line.startswith("Running stage"))
    assert ran == sorted(DVC_STAGES), first
    check_outputs(clone)
    for method in OFFICIAL:  # not in the test profile's evaluate.methods: a recorded skip, left out of the report
        assert (
            "is not in evaluate.methods" in (clone / f"results/{TEST_PROFILE}/infer/{method}/skipped.json").read_text()
        )
        assert "skipped" in json.loads((clone / f"metrics/{TEST_PROFILE}_{method}.json").read_text())
    report = json.loads((clone / f"reports/{TEST_PROFILE}/report.json").read_text())
    labels = [row[0] for table in report["tables"] for row in table["rows"]]
    assert len(labels) == len(METHODS) and not any("official weights" in label for label in labels), labels
    assert (clone / "dvc.lock").is_file()
    # a second run re-checks the inputs (the preflight always runs) and re-runs nothing else
    out = run(["dvc", "repro"], clone).stdout
    assert [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")] == ["preflight"], out
    assert run(["dvc", "status"], clone).stdout.split() == ["preflight:", "always", "changed"]
    shown = run(["dvc", "metrics", "show", "--json"], clone).stdout
    for method in METHODS:
        assert f"metrics/{TEST_PROFILE}_{method}.json" in shown
    plots = run(["dvc", "plots", "show", "--json"], clone).stdout
    assert "PSNR per video and method" in plots and f"results/{TEST_PROFILE}/evaluate/svcnet/per_frame.csv" in plots
    metrics = [f"metrics/{TEST_PROFILE}_{m}.json" for m in (*METHODS, *OFFICIAL)]
    check_shared_cache(clone, tmp_path, metrics, {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})
    shutil.rmtree(clone)  # a few GB of training checkpoints


@pytest.fixture(scope="module", autouse=True)
def _remove_workspace(workspace):
    yield
    shutil.rmtree(workspace, ignore_errors=True)  # a few GB of training checkpoints


def test_infer_set_refuses_bad_input_in_one_line(tmp_path):
    (tmp_path / "eval" / "clip" / "frames").mkdir(parents=True)
    (tmp_path / "scribbles" / "other").mkdir(parents=True)
    cases = {
        ("--method", "deoldify", "--scribbles", "scribbles"): "unknown method 'deoldify'",
        ("--method", "levin"): "--method levin needs --scribbles",
        ("--method", "svcnet", "--scribbles", "scribbles"): "no scribbles for clip(s) clip under scribbles",
        ("--method", "cpnet", "--scribbles", "scribbles", "--lightness", "luma"): "unknown lightness 'luma'",
    }
    for args, message in cases.items():
        proc = run(["svcnet", "infer-set", "eval", "--out", "out", *args], tmp_path, check=False)
        assert proc.returncode == 2 and proc.stderr.startswith("svcnet: error: "), proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = run(["svcnet", "infer-set", "scribbles", "--out", "out", "--method", "gray"], tmp_path, check=False)
    assert proc.returncode == 2 and "holds no clip" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_stages_of_unlisted_methods_record_a_skip(tmp_path):
    # DVC's fixed stage list: a method the profile does not evaluate writes skipped.json and the report leaves it out
    (tmp_path / "eval" / "clip" / "frames").mkdir(parents=True)
    (tmp_path / "scribbles" / "clip").mkdir(parents=True)
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["profile"] = "demo"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    common = ["--scribbles", "scribbles", "--config", "config.yaml", "--if-listed"]
    out = run(["svcnet", "infer-set", "eval", "--method", "official_cpnet", "--out", "infer", *common], tmp_path).stdout
    assert "skipped: official_cpnet is not in evaluate.methods (gray, levin, cpnet, svcnet)" in out
    evaluate = ["svcnet", "evaluate", "--pred", "infer", "--gt", "eval", "--out", "ev", "--metrics", "m.json"]
    run([*evaluate, "--method", "official_cpnet", "--config", "config.yaml", "--if-listed"], tmp_path)
    for path in ("infer/skipped.json", "ev/skipped.json", "m.json"):
        assert json.loads((tmp_path / path).read_text())["method"] == "official_cpnet", path
    # a listed method is run (here it stops at the empty clip)
    cfg["profiles"]["demo"]["evaluate"] = {"methods": ["official_cpnet"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    args = ["svcnet", "infer-set", "eval", "--method", "official_cpnet", "--out", "infer2", *common]
    proc = run(args, tmp_path, check=False)
    assert proc.returncode == 2 and "no image frames" in proc.stderr, proc.stdout + proc.stderr
    assert not (tmp_path / "infer2" / "skipped.json").exists()
