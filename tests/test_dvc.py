"""DVC re-runs what a change affects, and only that: every stage depends on the svcnet code it runs
(scripts/dvc_deps.py derives it) and on the configuration keys it reads in the active profile, and the run-cache
restores outputs of a command already run. The DVC checks run real dvc in a git repository holding a copy of this
working tree (test_dag's workspace); they run the cheap stages of the demo profile for real and record the training,
inference and evaluation stages over stand-in outputs (`dvc commit`), which is all `dvc status` compares; the run-cache
check reproduces the scribbles of the smaller `dagtest` profile."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml
from test_dag import TEST_PROFILE, make_workspace, run

REPO = Path(__file__).resolve().parents[1]
PROFILE = "demo"  # the stages recorded for the status checks (its cheap stages take seconds)
DVC_ONLY = {"config", "preflight"}  # stages without a Snakemake rule (Snakemake reads config/config.yaml itself
# and runs the preflight before its first job)
REAL_STAGES = [
    "preflight",
    "config",
    "prepare@train",
    "prepare@eval",
    "saliency",
    "scribbles",
    "pack",
]  # seconds on dagtest


def load_tool():
    spec = importlib.util.spec_from_file_location("dvc_deps", REPO / "scripts" / "dvc_deps.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


tool = load_tool()


# ---------------------------------------------------------------------------------------------------- code deps
def test_every_stage_depends_on_the_code_it_runs():
    results = tool.check(REPO)
    problems = tool.report(results, verbose=False)
    assert not problems, f"dvc.yaml deps differ from the code the stages run (python scripts/dvc_deps.py):\n{problems}"
    needed = {r.stage: set(r.needed) for r in results}
    # the closure follows the CLI's lazy imports down to the building blocks
    assert {"svcnet/models/blocks.py", "svcnet/models/vgg.py", "svcnet/scribbles/training.py"} <= needed["train_cpnet"]
    assert {"svcnet/models/warn.py", "svcnet/models/corrnet.py", "svcnet/ops/warp.py"} <= needed["train_ssnet"]
    assert "svcnet/models/pfan.py" in needed["saliency"] and "svcnet/models/pfan.py" not in needed["pack"]


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_closure_follows_lazy_relative_and_named_imports(tmp_path):
    write(
        tmp_path,
        {
            "svcnet/__init__.py": "VERSION = 1\n",
            "svcnet/cli/__init__.py": "import importlib\n",
            "svcnet/cli/cmd_x.py": "import typer\n\n\ndef run():\n    from svcnet.a import f\n",
            "svcnet/a.py": "from . import b\nfrom .sub import c\nfrom svcnet.pkg.e import g\n",
            "svcnet/b.py": "B = 1\n",
            "svcnet/sub/__init__.py": "TABLE = {'d': 'svcnet.sub.d'}\n",
            "svcnet/sub/c.py": "C = 1\n",
            "svcnet/sub/d.py": "import os\n",
            "svcnet/sub/unused.py": "U = 1\n",
            "svcnet/pkg/__init__.py": "",  # empty: runs nothing, not a dependency
            "svcnet/pkg/e.py": "def g():\n    pass\n",
            "svcnet/other.py": "O = 1\n",
        },
    )
    needed = {
        "svcnet/__init__.py",
        "svcnet/cli/__init__.py",
        "svcnet/cli/cmd_x.py",
        "svcnet/a.py",
        "svcnet/b.py",
        "svcnet/sub/__init__.py",
        "svcnet/sub/c.py",
        "svcnet/sub/d.py",
        "svcnet/pkg/e.py",
    }
    assert tool.code_files(tmp_path, ["svcnet.cli.cmd_x"]) == needed
    deps = ("data/in", "svcnet/cli", "svcnet/a.py", "svcnet/sub", "svcnet/pkg", "svcnet/other.py")
    res = tool.coverage(tmp_path, tool.Stage("x", "svcnet x --out o", deps), {"x": "svcnet.cli.cmd_x"})
    assert res.missing == ("svcnet/__init__.py", "svcnet/b.py")
    assert res.unused == ("svcnet/other.py",)
    assert "MISSING from deps: svcnet/b.py" in tool.report([res], verbose=False)
    # whole folders where every (non-empty) file is needed: cli/ and pkg/, not sub/ (unused.py)
    assert tool.folded(tmp_path, needed) == [
        "svcnet/__init__.py",
        "svcnet/a.py",
        "svcnet/b.py",
        "svcnet/cli",
        "svcnet/pkg",
        *[f"svcnet/sub/{n}.py" for n in ("__init__", "c", "d")],
    ]


# ------------------------------------------------------------------------------------------------------- params
def stage_params(root: Path) -> dict[str, dict[str, list[str]]]:
    """stage -> params file -> key paths, as DVC expands dvc.yaml."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {
            s.name: {d.def_path: list(d.params) for d in s.deps if isinstance(d, ParamsDependency)}
            for s in repo.index.stages
        }


def test_the_config_stage_tracks_the_defaults_and_the_active_profile_only():
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    params = stage_params(REPO)
    expected = {"profile", f"profiles.{raw['profile']}", *(k for k in raw if k not in ("profile", "profiles"))}
    assert set(params["config"]["config/config.yaml"]) == expected
    # every other stage reads the merged file the config stage writes (and its own entry of the preflight record),
    # never config/config.yaml itself
    allowed = {f"results/{raw['profile']}/config.yaml", f"results/{raw['profile']}/preflight.json"}
    for stage, files in params.items():
        assert stage == "config" or set(files) <= allowed, (stage, files)


def test_every_setting_of_a_section_split_between_stages_is_read_by_one():
    # a section listed key by key (train: each training stage its own) must not leave a key unlisted (a new key)
    from svcnet.config import load_raw, resolve

    raw = load_raw(REPO / "config" / "config.yaml")
    listed = {key for files in stage_params(REPO).values() for keys in files.values() for key in keys}
    for profile in raw["profiles"]:
        resolved = resolve(raw, profile)
        for section in {key.split(".")[0] for key in listed if "." in key and not key.startswith("profiles.")}:
            if section in listed:
                continue
            unlisted = [f"{section}.{k}" for k in resolved[section] if f"{section}.{k}" not in listed]
            assert not unlisted, f"profile {profile}: no dvc.yaml stage lists {', '.join(unlisted)}"


def test_svcnet_config_writes_the_profile_merged_over_the_defaults(tmp_path):
    run(["svcnet", "config", "--profile", "paper", "--out", str(tmp_path / "paper.yaml")], REPO)
    merged = yaml.safe_load((tmp_path / "paper.yaml").read_text())
    assert "profiles" not in merged and merged["profile"] == "paper"
    assert merged["infer"]["lightness"] == "official" and merged["data"]["eval"]["source"] == "svcnet_davis_videvo_val"
    assert merged["data"]["height"] == 256  # a default the profile leaves alone
    proc = run(["svcnet", "config", "--profile", "nope"], REPO, check=False)
    assert proc.returncode == 2 and "profile 'nope' is not defined" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------------ real dvc
def set_profile(ws: Path, profile: str) -> None:
    """Make ``profile`` the active one (as `dvc exp run -S config/config.yaml:profile=NAME` would)."""
    edit_config(ws, lambda cfg: cfg.update(profile=profile))


def edit_config(ws: Path, change) -> None:
    path = ws / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def changed_stages(ws: Path, *targets: str) -> dict:
    """`dvc status` as a mapping: stage -> what changed (``targets``: these stages and their upstream only), without
    the `preflight` stage's standing "always changed" (it re-checks the registry files on every run)."""
    with_deps = ["--with-deps", *targets] if targets else []
    status = json.loads(run(["dvc", "status", "--json", *with_deps], ws).stdout or "{}")
    return {stage: what for stage, what in status.items() if what != ["always changed"]}


def stand_in_outputs(ws: Path, stages: list[str]) -> None:
    """Write a small file for each output of ``stages`` (a file, or one file inside an output folder)."""
    from dvc.repo import Repo

    with Repo(str(ws)) as repo:
        outs = [o.def_path for s in repo.index.stages if s.name in stages for o in s.outs]
    for rel in outs:
        path = ws / rel
        target = path if path.suffix else path / "stand_in.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"stand-in for {rel}\n")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """The workspace with the cheap stages run and every other stage recorded over stand-in outputs."""
    ws = make_workspace(tmp_path_factory.mktemp("dvcws") / "svcnet")
    set_profile(ws, PROFILE)
    run(["dvc", "repro", *REAL_STAGES], ws)
    from dvc.repo import Repo

    with Repo(str(ws)) as repo:
        rest = [s.name for s in repo.index.stages if s.name not in REAL_STAGES]
    stand_in_outputs(ws, rest)
    run(["dvc", "commit", "-f", *rest], ws)
    assert changed_stages(ws) == {}
    return ws


@pytest.mark.slow
def test_editing_a_module_changes_the_stages_that_import_it(recorded):
    blocks = recorded / "svcnet" / "models" / "blocks.py"
    original = blocks.read_text()
    blocks.write_text(original + "\n# edited\n")
    try:
        changed = changed_stages(recorded)
    finally:
        blocks.write_text(original)
    assert {"changed deps": {"svcnet/models/blocks.py": "modified"}} in changed["train_cpnet"]
    importers = {r.stage for r in tool.check(recorded) if "svcnet/models/blocks.py" in r.needed}
    assert set(changed) == importers
    assert {"train_ssnet", "colorize_svcnet", "scribbles"} <= importers and "pack" not in importers
    assert changed_stages(recorded) == {}


@pytest.mark.slow
def test_editing_another_profile_changes_nothing_and_a_key_changes_its_readers(recorded):
    before = (recorded / "config" / "config.yaml").read_text()
    try:
        edit_config(recorded, lambda cfg: cfg["profiles"]["paper"]["data"]["eval"].update(max_frames=5))
        edit_config(recorded, lambda cfg: cfg["profiles"]["small"]["train"].update(num_workers=3))
        assert changed_stages(recorded) == {}
        # a default: the config stage re-runs, then only the stages that read the key differ
        edit_config(recorded, lambda cfg: cfg["scribbles"].update(points=11))
        assert set(changed_stages(recorded)) == {"config"}
        run(["dvc", "repro", "config"], recorded)
        edited = [{"changed deps": {f"results/{PROFILE}/config.yaml": {"scribbles": "modified"}}}]
        assert changed_stages(recorded) == {"scribbles": edited, "report": edited}  # the report shows the config
        # a key of the active profile, read by one training stage and not the other
        edit_config(recorded, lambda cfg: cfg["profiles"][PROFILE]["train"]["warn"].update(duration=2))
        run(["dvc", "repro", "config"], recorded)
        assert set(changed_stages(recorded)) == {"scribbles", "train_ssnet", "report"}
    finally:
        (recorded / "config" / "config.yaml").write_text(before)
        run(["dvc", "repro", "config"], recorded)
    assert changed_stages(recorded) == {}


def related(a: str, b: str) -> bool:
    """One path is the other or a folder holding it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


@pytest.mark.slow
def test_every_dvc_output_is_a_snakemake_output(recorded):
    # the same paths in both DAGs: a DVC folder may hold per-clip Snakemake outputs, or sit in a Snakemake folder
    dry = run(["snakemake", "-n", "--forceall"], recorded).stdout
    snakemake = {
        p.strip()
        for line in dry.splitlines()
        if line.strip().startswith("output:")
        for p in line.split(":", 1)[1].split(",")
    }
    assert f"results/{PROFILE}/train/cpnet/cpnet.pth" in snakemake
    from dvc.repo import Repo

    from svcnet.config import load_config

    # DVC's stage list is fixed: the released weights' stages only record a skip in a profile that does not evaluate
    # them, and Snakemake plans no job for them there
    methods = set(load_config([recorded / "config" / "config.yaml"], PROFILE).section("evaluate")["methods"])
    with Repo(str(recorded)) as repo:
        stages = list(repo.index.stages)
    item = {s.name: s.name.partition("@")[2] for s in stages}
    skipped = {name for name, m in item.items() if m.startswith("official_") and m not in methods}
    outs = {o.def_path for s in stages if s.name not in DVC_ONLY | skipped for o in s.outs}
    unmatched = [o for o in sorted(outs) if not any(related(o, p) for p in snakemake)]
    assert outs and not unmatched, f"DVC outputs that no Snakemake job writes: {unmatched}"


def scribble_files(ws: Path) -> dict[str, bytes]:
    root = ws / "results" / TEST_PROFILE / "scribbles"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def ran(out: str) -> list[str]:
    return sorted(line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage"))


@pytest.mark.slow
def test_the_run_cache_restores_outputs_of_an_earlier_setting(tmp_path):
    ws = make_workspace(tmp_path / "svcnet")
    set_profile(ws, TEST_PROFILE)
    first_out = run(["dvc", "repro", "scribbles"], ws).stdout
    # `preflight` runs on every `dvc repro` (always_changed); its record only changes when an input does
    assert ran(first_out) == ["config", "preflight", "prepare@eval", "scribbles"], first_out
    first = scribble_files(ws)
    edit_config(ws, lambda cfg: cfg["scribbles"].update(seed=1))
    out = run(["dvc", "repro", "scribbles"], ws).stdout
    assert ran(out) == ["config", "preflight", "scribbles"], out
    assert scribble_files(ws) != first
    edit_config(ws, lambda cfg: cfg["scribbles"].update(seed=0))
    out = run(["dvc", "repro", "scribbles"], ws).stdout
    assert ran(out) == ["preflight"], out
    for stage in ("config", "scribbles"):
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in out
    assert scribble_files(ws) == first
    assert changed_stages(ws, "scribbles") == {}
