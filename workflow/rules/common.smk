# Shared by all the rule files. Resolved configuration, path helpers, input helpers and the final targets.
import json
import os

from snakemake.exceptions import WorkflowError

from svcnet.config import resolve

# --config on the command line may only choose the profile: `svcnet` commands read the config files themselves
# (the same files Snakemake read), so any other override would be seen by Snakemake but not by the stages.
_overrides = set(workflow.config_settings.config or {}) - {"profile"}
if _overrides:
    raise ValueError(
        f"--config {', '.join(sorted(_overrides))}=...: only `profile` can be set with --config; put other "
        "settings in config/config.yaml or in a YAML file given with --configfile"
    )

PROFILE = config["profile"]
CFG = resolve(config, source="snakemake config")  # profile applied, validated again
# Arguments that make a `svcnet` command read exactly the configuration Snakemake uses (pass as a param): the
# `configfile:` of the Snakefile, then the --configfile files merged over it (Snakemake's order).
_cli_files = [os.path.abspath(f) for f in workflow.config_settings.configfiles]
_files = [f for f in map(str, workflow.configfiles) if os.path.abspath(f) not in _cli_files]
_files += [os.path.relpath(f) if not os.path.relpath(f).startswith("..") else f for f in _cli_files]
SVCNET_CONFIG = " ".join(f"--config {f}" for f in _files) + f" --profile {PROFILE}"
# Software environment of all rules with --use-conda (a path relative to the rule files).
SVCNET_ENV = "../envs/svcnet.yaml"

DATA = f"data/{PROFILE}"
RESULTS = f"results/{PROFILE}"
REPORTS = f"reports/{PROFILE}"
LOGS = f"logs/{PROFILE}"
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


def prepare_inputs(wildcards):
    """Source folders of a split (a new or removed file re-runs prepare); none for downloaded DAVIS 2017."""
    cs = CFG["data"][wildcards.split]
    if cs["source"] == "demo":
        root = Path("datasets/demo/davis")
        seqs = cs.get("sequences") or sorted(p.name for p in root.iterdir() if p.is_dir())
        return [str(root / s) for s in seqs]
    if cs.get("root"):
        if not Path(cs["root"]).is_dir():
            raise WorkflowError(
                f"data.{wildcards.split}.root of profile {PROFILE!r} is {cs['root']!r}, which is not a folder: set it "
                "(config/config.yaml or a --configfile) to a folder of DAVIS-layout clips (<clip>/frames or "
                "JPEGImages/480p/<clip>)"
            )
        return [cs["root"]]
    return []


# ----------------------------------------------------------------------------------- inference / evaluation / report
def split_clips(split):
    """Names of a split's clips: data.<split>.sequences, else the demo clips, else the prepared folder's clips (a fresh
    davis2017/folder run: build data/<profile>/<split> first, `snakemake data/<profile>/<split>`, or list `sequences`)."""
    cs = CFG["data"][split]
    if cs.get("sequences"):
        return list(cs["sequences"])
    if cs["source"] == "demo":
        return sorted(p.name for p in Path("datasets/demo/davis").iterdir() if p.is_dir())
    root = Path(DATA, split)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def eval_clips():
    """Names of the eval clips (split_clips)."""
    return split_clips("eval")


def scribble_dir(clip):
    """Per-frame scribbles of an eval clip (<frame>_256p.png), as written by `svcnet scribbles --out {RESULTS}/scribbles`
    (style `gt`)."""
    return f"{RESULTS}/scribbles/gt/{clip}"


# Weights folder of the optional official files (PFAN, PWC-Net): $SVCNET_WEIGHTS or weights/.
WEIGHTS_DIR = os.environ.get("SVCNET_WEIGHTS") or "weights"


def eval_methods():
    """evaluate.methods: gray, levin and the networks trained by this pipeline (cpnet, svcnet)."""
    return list(CFG.get("evaluate", {}).get("methods", ["gray", "levin", "cpnet", "svcnet"]))


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


def trained_weights(method):
    """Checkpoints `svcnet colorize --method cpnet|svcnet` runs with, as {option: file}: cpnet = the stage-2 CPNet
    (train_cpnet); svcnet = SSNet with the CPNet fine-tuned jointly with it (train_ssnet)."""
    if method == "cpnet":
        return {"cpnet": TRAINED_CPNET2}
    return {"cpnet": TRAINED_CPNET, "ssnet": TRAINED_SSNET}
