# Shared by all the rule files. Resolved configuration, path helpers, input helpers and the final targets.
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

from snakemake.exceptions import WorkflowError

from svcnet.config import build, resolve
from svcnet.data.testsets import planned_clips
from svcnet.preflight import required_inputs
from svcnet.sources import registry_ref
from svcnet.gpus import dag_gpus
from svcnet.train.launch import launcher

# --config on the command line may choose the profile and allow_missing only: `svcnet` commands read the config files
# themselves (the same files Snakemake read), so any other override would be seen by Snakemake but not by the stages.
_overrides = set(workflow.config_settings.config or {}) - {"profile", "allow_missing"}
if _overrides:
    raise ValueError(
        f"--config {', '.join(sorted(_overrides))}=...: only `profile` and `allow_missing` can be set with --config; "
        "put other settings in config/config.yaml or in a YAML file given with --configfile"
    )
# --config allow_missing=true: run the stages whose inputs are present instead of stopping at the preflight (the jobs
# of the others are left out of the run).
_allow_missing = str(config.pop("allow_missing", False)).lower()
if _allow_missing not in ("true", "false"):
    raise ValueError(f"--config allow_missing={_allow_missing}: give true or false")
ALLOW_MISSING = _allow_missing == "true"

PROFILE = config["profile"]
CFG = resolve(config, source="snakemake config")  # profile applied, validated again
CONFIG = build(CFG)  # the same, as the frozen dataclasses the `svcnet` commands read
# Arguments that make a `svcnet` command read exactly the configuration Snakemake uses (pass as a param): the
# `configfile:` of the Snakefile, then the --configfile files merged over it (Snakemake's order).
_cli_files = [os.path.abspath(f) for f in workflow.config_settings.configfiles]
_files = [f for f in map(str, workflow.configfiles) if os.path.abspath(f) not in _cli_files]
_files += [os.path.relpath(f) if not os.path.relpath(f).startswith("..") else f for f in _cli_files]
SVCNET_CONFIG = " ".join(f"--config {f}" for f in _files) + f" --profile {PROFILE}"
# Software environment of all rules with --use-conda (a path relative to the rule files).
SVCNET_ENV = "../envs/svcnet.yaml"

# GPUs a job may use, per kind (resources: gpu=...; none where the stage's device is cpu), and the start of the
# training command (svcnet, or torchrun for train.processes > 1).
GPUS = dag_gpus(CFG)
TRAIN_LAUNCHER = launcher(CFG["train"]["processes"])
# Threads of a job that takes the whole machine (training): --cores of a local run; under a cluster executor, where
# --cores is not set, 1 (the profile's cpus_per_task sizes the job).
ALL_CORES = workflow.resource_settings.cores or 1

DATA = f"data/{PROFILE}"
RESULTS = f"results/{PROFILE}"
REPORTS = f"reports/{PROFILE}"
LOGS = f"logs/{PROFILE}"
# Snakemake's `benchmark:` record of every job (wall time, max RSS, CPU time: one TSV row), where the per-rule time and
# memory of workflow/profiles/slurm come from (docs/measurements.md). Not declared outputs of any stage, not in git.
BENCHMARKS = f"benchmarks/{PROFILE}"
SPLITS = ("train", "eval")

# Final outputs built by `rule all` (Snakefile); each rule file appends its own.
TARGETS = []

# Paths written by the jobs of one rule file and read by another are named here, so that each rule file depends
# only on this file and its own definitions. Trained weights (train.smk -> infer.smk, report.smk):
TRAINED_CPNET2 = f"{RESULTS}/train/cpnet/cpnet.pth"  # stage-2 CPNet (train_cpnet)
TRAINED_SSNET = f"{RESULTS}/train/ssnet/ssnet.pth"  # SSNet (train_ssnet)
TRAINED_CPNET = f"{RESULTS}/train/ssnet/cpnet.pth"  # the CPNet fine-tuned jointly with SSNet (train_ssnet)
TRAINED_SSNET_CURVE = f"{RESULTS}/train/ssnet/loss.png"  # written last by train_ssnet


def saliency_dir(split):
    """Saliency maps of a split (saliency.smk), <clip>/<frame>.png, packed into the lmdb with the frames (pack.smk)."""
    return f"{DATA}/saliency/{split}"


def pack_maps(split):
    """Per-frame maps packed into the lmdb with the frames: {kind: folder laid out <clip>/<frame>.png}."""
    return {"saliency": saliency_dir(split)}


def pack_map_inputs(split):
    """The job outputs the pack_maps folders are made of (saliency: one folder per clip, one job each)."""
    return [f"{saliency_dir(split)}/{c}" for c in split_clips(split)]


def settings(*parts):
    """A JSON string of config sections, as a params entry: editing them makes Snakemake re-run the job."""
    return json.dumps({".".join(p): _section(p) for p in parts}, sort_keys=True)


def _section(path):
    node = CFG
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node


# ------------------------------------------------------------------------- inputs from the registry, the preflight
# Where `svcnet fetch` puts registry entries: their `dest` / `unpack.into` are relative to the working directory.
FETCH_ROOT = "."
# The registry files and configured folders each stage reads (svcnet.preflight.required_inputs), by DVC stage name.
REQUIRED = {stage: [str(p) for p in paths] for stage, paths in required_inputs(CONFIG, FETCH_ROOT).items()}
# Stages with a required input that is not there: the preflight stops a real run before its first job; with
# allow_missing their jobs are left out. A dry run (-n) plans every job either way.
MISSING_STAGES = {stage for stage, paths in REQUIRED.items() if not all(os.path.exists(p) for p in paths)}


def registry_inputs(stage):
    """A stage's required inputs that are present, as rule inputs (a new or changed one re-runs the job; a missing
    one is the preflight's to report, so that it does not stop the planning)."""
    return [p for p in REQUIRED.get(stage, []) if os.path.exists(p)]


def runnable(stages):
    """Whether jobs of these stages belong in the run: always, unless allow_missing and one lacks an input."""
    return not (ALLOW_MISSING and MISSING_STAGES & set(stages))


def run_preflight():
    """`svcnet preflight` on the run's configuration, before its first job (Snakefile, onstart): it prints one list
    of every missing file with how to get it; anything missing stops the run unless allow_missing."""
    cmd = [sys.executable, "-m", "svcnet", "preflight", *SVCNET_CONFIG.split()]
    if ALLOW_MISSING:
        cmd.append("--allow-missing")
    code = subprocess.run(cmd).returncode
    if code == 2:
        raise WorkflowError(
            "the preflight found missing inputs (listed above); no job was started. Put them in place, or run with "
            "--config allow_missing=true to run only the stages whose inputs are present"
        )
    if code != 0:
        raise WorkflowError(f"{' '.join(cmd)} failed (exit {code}); no job was started")
    if ALLOW_MISSING and MISSING_STAGES:
        skipped = ", ".join(sorted(set(eval_methods(configured=True)) - set(eval_methods())))
        stages = ", ".join(sorted(MISSING_STAGES))
        print(f"allow_missing: left out the stages {stages}; methods not evaluated: {skipped or 'none'}")


def prepare_inputs(wildcards):
    """Source folders of a split (a new or removed file re-runs prepare): the embedded clips of the demo source, the
    configured root folder, the registry entries it reads; none for downloaded DAVIS 2017."""
    cs = CFG["data"][wildcards.split]
    if cs["source"] == "demo":
        return [f"datasets/demo/davis/{c}" for c in split_clips(wildcards.split)]
    if cs.get("root") and registry_ref(cs["root"]) is None and not Path(cs["root"]).is_dir():
        raise WorkflowError(
            f"data.{wildcards.split}.root of profile {PROFILE!r} is {cs['root']!r}, which is not a folder: set it "
            "(config/config.yaml or a --configfile) to a folder of DAVIS-layout clips (<clip>/frames or "
            "JPEGImages/480p/<clip>)"
        )
    plain_root = [cs["root"]] if cs.get("root") and registry_ref(cs["root"]) is None else []
    return list(dict.fromkeys([*plain_root, *registry_inputs(f"prepare@{wildcards.split}")]))


# ----------------------------------------------------------------------------------- inference / evaluation / report
# A clip id: the clip's path under the prepared split, `<video>` or `<tag>/<video>` for a tagged release (test set
# <tag>). Fixed before any job runs (svcnet.data.testsets.planned_clips), so one call plans every per-clip job.
CLIP_ID = r"[^/]+(/[^/]+)?"


@cache
def split_clips(split):
    """The clip ids of a split (svcnet.data.testsets.planned_clips: data.<split>.sequences, else the source folder's
    clips, else the release's clip list shipped in datasets/lists/)."""
    return tuple(planned_clips(CONFIG, split, FETCH_ROOT))


def folder_above(path, clip_id, levels=0):
    """The folder that holds a per-clip output `path` (ending in the clip id), or `levels` folders above it."""
    return str(Path(path).parents[clip_id.count("/") + levels])


def eval_clips():
    """The eval clip ids (split_clips)."""
    return split_clips("eval")


def scribble_dir(clip):
    """Per-frame scribbles of an eval clip (<frame>_256p.png), as written by `svcnet scribbles --out {RESULTS}/scribbles`
    (style `gt`)."""
    return f"{RESULTS}/scribbles/gt/{clip}"


# Weights folder of the optional official files (PFAN, PWC-Net): $SVCNET_WEIGHTS or weights/.
WEIGHTS_DIR = os.environ.get("SVCNET_WEIGHTS") or "weights"


# Stages each method of evaluate.methods needs, by DVC stage name: gray and levin (baselines), the networks trained by
# this pipeline (cpnet = the stage-2 CPNet, svcnet = SSNet with its jointly fine-tuned CPNet), and the released
# weights (official_cpnet = CPNet of the registry entry `cpnet`, official_svcnet = with SSNet of `ssnet`).
_EVAL = ["prepare@eval", "evaluate"]
_TRAIN_CPNET = ["prepare@train", "saliency", "pack", "train_cpnet"]
TRAIN_STAGES = [*_TRAIN_CPNET, "train_ssnet"]
METHOD_STAGES = {
    "gray": _EVAL,
    "levin": [*_EVAL, "scribbles"],
    "cpnet": [*_EVAL, "scribbles", *_TRAIN_CPNET, "colorize_cpnet"],
    "svcnet": [*_EVAL, "scribbles", *TRAIN_STAGES, "colorize_svcnet"],
    "official_cpnet": [*_EVAL, "scribbles", "colorize_official_cpnet"],
    "official_svcnet": [*_EVAL, "scribbles", "colorize_official_svcnet"],
}
# The methods of the released weights (registry entries cpnet, and ssnet for official_svcnet).
OFFICIAL_METHODS = ("official_cpnet", "official_svcnet")
NETWORK_METHODS = ["cpnet", "svcnet", *OFFICIAL_METHODS]


def eval_methods(configured=False):
    """evaluate.methods (default gray, levin, cpnet, svcnet); with allow_missing, those whose stages can all run."""
    methods = list(CFG.get("evaluate", {}).get("methods", ["gray", "levin", "cpnet", "svcnet"]))
    return methods if configured else [m for m in methods if runnable(METHOD_STAGES[m])]


def training_shown():
    """(folder, file it is finished by) of the training runs whose curves the report shows: those of the evaluated
    networks (cpnet: train_cpnet; svcnet: train_ssnet too)."""
    methods = eval_methods()
    runs = []
    if {"cpnet", "svcnet"} & set(methods):
        runs.append((os.path.dirname(TRAINED_CPNET2), TRAINED_CPNET2))
    if "svcnet" in methods:
        runs.append((os.path.dirname(TRAINED_SSNET), TRAINED_SSNET_CURVE))
    return runs


def network_weights(method):
    """Checkpoints `svcnet colorize` runs a network method with, as {option: file or folder}: cpnet = the stage-2
    CPNet (train_cpnet); svcnet = SSNet with the CPNet fine-tuned jointly with it (train_ssnet); official_* = the
    weights folder, where colorize takes the released files by their registry names and verifies them."""
    if method in OFFICIAL_METHODS:
        return {"weights": WEIGHTS_DIR}
    if method == "cpnet":
        return {"cpnet": TRAINED_CPNET2}
    return {"cpnet": TRAINED_CPNET, "ssnet": TRAINED_SSNET}


def network_weight_inputs(method):
    """The checkpoints of network_weights as job inputs: the trained ones (made by train.smk), and what the stage
    reads from the registry when present (the released weights; registry_inputs)."""
    trained = [] if method in OFFICIAL_METHODS else list(network_weights(method).values())
    return list(dict.fromkeys([*trained, *registry_inputs(f"colorize_{method}")]))
