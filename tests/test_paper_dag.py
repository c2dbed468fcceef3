"""The `paper` profile end to end on a paper-shaped miniature of the SVCNet release (tests/paper_miniature.py).

A copy of this working tree in a temporary git repository gets the miniature release as a user gets the real one: the
direct files downloaded by `svcnet fetch` from an HTTP server on 127.0.0.1, the share-page archives and weights saved
under their registry paths and unpacked by `svcnet fetch`, all checked against the sha256 of a test registry
($SVCNET_SOURCES). Then:

- with one release file missing, `snakemake --config profile=paper` stops before its first job and names the file and
  its `svcnet fetch` step;
- `snakemake --cores 2 --config profile=paper --configfile overrides.yaml` runs every rule of the workflow in one call
  and the report has one table per test set (DAVIS, Videvo) with the rows of the released weights;
- the same through `dvc repro` in a fresh clone (the overrides written into config/config.yaml, as DVC reads only
  that file): with the file missing only the `preflight` stage runs, and fails naming it; then every stage runs, and
  a second `dvc repro` runs only `preflight` again.

What overrides.yaml changes (:data:`OVERRIDES`), all under `profiles.paper`: the working size (data.height/width
256×448 → 64×112); in every training stage (train.cpnet1, cpnet2, warn, ssnet) unit epoch → iteration, duration → 1,
size → 64×64 (cpnet1) / 64×112 (the others), crop → none, save_every → 0 (a checkpoint at the end only), log_every → 1,
and batch_size → 1 (not in ssnet, whose batch is one clip); train.num_workers 8 → 0 (2 CI cores). Data sources,
methods, evaluation protocol, scribbles, weights and every other setting are the paper profile's own; the miniature's
clips are small already (2 validation clips per tag, 8 frames each).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import paper_miniature as mini
import pytest
import yaml
from test_dag import project_files, run

from svcnet.config import deep_merge

PROFILE = "paper"
TRAIN_STAGE = {"unit": "iteration", "duration": 1, "batch_size": 1, "crop": [], "save_every": 0, "log_every": 1}
OVERRIDES = {
    "profiles": {
        PROFILE: {
            "data": {"height": 64, "width": 112},
            "train": {
                "num_workers": 0,
                "cpnet1": {**TRAIN_STAGE, "size": [64, 64]},
                "cpnet2": {**TRAIN_STAGE, "size": [64, 112]},
                "warn": {**TRAIN_STAGE, "size": [64, 112]},
                "ssnet": {**{k: v for k, v in TRAIN_STAGE.items() if k != "batch_size"}, "size": [64, 112]},
            },
        }
    }
}
METHODS = ("gray", "levin", "official_cpnet", "official_svcnet", "cpnet", "svcnet")
TEST_SETS = {"DAVIS": "DAVIS", "videvo": "Videvo"}  # tag -> table title
REMOVED = "srnet"  # read only by the last training stage, train_ssnet
RUN_TIMEOUT = 1500  # seconds per command (a loaded 2-core machine)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> mini.Release:
    return mini.build_release(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def server(release):
    """The direct sources served from 127.0.0.1: name -> URL."""
    with mini.serve(release) as urls:
        yield urls


@pytest.fixture(scope="module")
def registry(release, server, tmp_path_factory) -> Path:
    return mini.write_registry(release, server, tmp_path_factory.mktemp("registry") / "sources.yaml")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """This working tree, committed in a temporary git repository, plus overrides.yaml (not committed)."""
    ws = tmp_path_factory.mktemp("paper") / "svcnet"
    for rel in project_files():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(mini.REPO / rel, ws / rel)
    run(["git", "init", "-q"], ws)
    run(["git", "add", "-A"], ws)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "snapshot"], ws)
    (ws / "overrides.yaml").write_text(yaml.safe_dump(OVERRIDES, sort_keys=False))
    yield ws
    shutil.rmtree(ws, ignore_errors=True)  # training checkpoints and the release: a few GB


def svcnet_run(args: list[str], cwd: Path, registry: Path, check: bool = True):
    """``run`` of tests/test_dag.py with the test registry in $SVCNET_SOURCES; a failure shows the end of the log of
    every failed Snakemake job (the workspace is gone when the report is read)."""
    proc = run(args, cwd, check=False, env={"SVCNET_SOURCES": str(registry)}, timeout=RUN_TIMEOUT)
    if check and proc.returncode != 0:
        logs = re.findall(r"log: (\S+) \(check log file", proc.stdout + proc.stderr)
        tails = "".join(f"\n--- {log}:\n{(cwd / log).read_text()[-1500:]}" for log in logs if (cwd / log).is_file())
        raise AssertionError(
            f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}{tails}"
        )
    return proc


def install(release, registry, dest: Path, skip: tuple[str, ...] = ()) -> None:
    proc = mini.install(release, registry, dest, skip=skip)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def jobs_run(output: str) -> list[str]:
    """Rule names of the jobs a Snakemake run started (``rule NAME:`` / ``localrule NAME:`` headers)."""
    names = []
    for line in output.splitlines():
        head = line.strip()
        for prefix in ("rule ", "localrule ", "checkpoint "):
            if head.startswith(prefix) and head.endswith(":"):
                names.append(head[len(prefix) : -1])
    return names


def check_report(root: Path) -> None:
    """Every method scored per test set (first frames excluded), and the report's one table per test set, DAVIS then
    Videvo, with a row per method, the released weights' rows among them."""
    for method in METHODS:
        scores = json.loads((root / f"metrics/{PROFILE}_{method}.json").read_text())
        assert set(scores["test_sets"]) == set(TEST_SETS), scores
        for tag, clips in mini.VAL_CLIPS.items():
            block = scores["test_sets"][tag]
            assert (block["videos"], block["frames"]) == (len(clips), len(clips) * (mini.VAL_FRAMES - 1)), block
            assert 5.0 < block["psnr"] < 60.0, block
    report = json.loads((root / f"reports/{PROFILE}/report.json").read_text())
    tables = [t for t in report["tables"] if t["test_set"] in TEST_SETS]
    assert [(t["test_set"], t["title"]) for t in tables] == list(TEST_SETS.items()), report["tables"]
    for table in tables:
        labels = [row[0] for row in table["rows"]]
        assert len(labels) == len(METHODS), labels
        assert sum("official weights" in label for label in labels) == 2, labels
    html = (root / f"reports/{PROFILE}/index.html").read_text()
    assert all(title in html for title in TEST_SETS.values())


def test_a_missing_release_file_stops_the_run_before_its_first_job(workspace, release, registry):
    install(release, registry, workspace, skip=(REMOVED,))
    proc = svcnet_run(
        ["snakemake", "--cores", "2", "--config", f"profile={PROFILE}", "--configfile", "overrides.yaml"],
        workspace,
        registry,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Warp_Artifact" not in out  # the present files are not listed
    assert "Color_Embedding_SR_Net_normnone_epoch40_bs4.pth" in out and f"svcnet fetch {REMOVED}" in out, out
    assert jobs_run(out) == [], out
    assert not (workspace / "data" / PROFILE).exists() and not (workspace / "results" / PROFILE / "train").exists()


@pytest.mark.timeout(RUN_TIMEOUT + 300)
def test_snakemake_runs_every_rule_of_the_paper_profile_in_one_call(workspace, release, registry):
    install(release, registry, workspace)
    rules = run(["snakemake", "--list-rules"], workspace).stdout.split()
    try:
        proc = svcnet_run(
            ["snakemake", "--cores", "2", "--config", f"profile={PROFILE}", "--configfile", "overrides.yaml"],
            workspace,
            registry,
        )
        ran = set(jobs_run(proc.stdout + proc.stderr))
        assert ran == set(rules), sorted(set(rules) ^ ran)
        check_report(workspace)
        again = svcnet_run(
            ["snakemake", "-n", "--config", f"profile={PROFILE}", "--configfile", "overrides.yaml"], workspace, registry
        )
        assert "Nothing to be done" in again.stdout, again.stdout
    finally:  # the weights and training outputs (GBs) go before the next test makes its own in a clone
        run(["git", "clean", "-fdxq", "-e", "overrides.yaml"], workspace)


def stages_run(output: str) -> list[str]:
    """Names of the stages a `dvc repro` ran (``Running stage 'NAME':``)."""
    return re.findall(r"^Running stage '([^']+)'", output, flags=re.M)


@pytest.mark.timeout(2 * RUN_TIMEOUT)
def test_dvc_repro_runs_the_paper_profile_in_a_fresh_clone(workspace, release, registry, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(workspace), str(clone)], tmp_path)
    try:
        run(["dvc", "config", "--local", "cache.type", "hardlink"], clone)  # the README's advice for big weights
        cfg_path = clone / "config" / "config.yaml"  # DVC reads only this file: the overrides go into it
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg["profile"] = PROFILE
        cfg["profiles"][PROFILE] = deep_merge(cfg["profiles"][PROFILE], OVERRIDES["profiles"][PROFILE])
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        stages = run(["dvc", "stage", "list", "--name-only"], clone).stdout.split()
        # one release file missing: the preflight stage fails and names it, no other stage runs
        install(release, registry, clone, skip=(REMOVED,))
        proc = svcnet_run(["dvc", "repro"], clone, registry, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and stages_run(out) == ["preflight"], out
        assert "Color_Embedding_SR_Net_normnone_epoch40_bs4.pth" in out and f"svcnet fetch {REMOVED}" in out, out
        install(release, registry, clone)
        first = svcnet_run(["dvc", "repro"], clone, registry).stdout
        assert sorted(stages_run(first)) == sorted(stages), first
        check_report(clone)
        for weights in ("cpnet/cpnet.pth", "ssnet/ssnet.pth", "ssnet/cpnet.pth"):  # one copy, shared with the cache
            assert (clone / f"results/{PROFILE}/train/{weights}").stat().st_nlink >= 2, weights
        again = svcnet_run(["dvc", "repro"], clone, registry).stdout
        assert stages_run(again) == ["preflight"], again  # the preflight always runs; its record is unchanged
    finally:  # the clone's weights, training outputs and DVC cache: GBs
        shutil.rmtree(clone, ignore_errors=True)
