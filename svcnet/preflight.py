"""Preflight: every file and folder a profile's stages will read, derived from the resolved config, checked before the
first job (presence, and sha256/size where the registry publishes them).

What is required, by stage (the keys of :func:`required_inputs`):

* ``prepare@train`` / ``prepare@eval``: the clip set's source folder (``data.<split>.root``, a path or
  ``registry:<name>``, else the source's registry entry) and seg-target folder (``data.<split>.seg``);
* ``train_cpnet`` (when ``evaluate.methods`` has cpnet or svcnet): stage 1 images and saliency
  (``train.cpnet1.images`` / ``image_saliency``, when stage 1 runs on images) and ``train.init.vgg16`` / ``cpnet``;
* ``train_ssnet`` (when it has svcnet): ``train.init.warn`` / ``srnet`` / ``corrnet_*`` / ``pwcnet``;
* ``saliency``: the PFAN weights when ``saliency.method`` is pfan;
* ``scribbles``: the PWC-Net weights when ``scribbles.flow`` is pwcnet (or ``scribbles.protocol`` is gcs);
* ``colorize_official_cpnet`` / ``colorize_official_svcnet``: the released CPNet (+ SSNet and PWC-Net) when
  ``evaluate.methods`` names official_cpnet / official_svcnet;
* ``evaluate``: the LPIPS AlexNet backbone when ``evaluate.lpips`` (optional: LPIPS is n/a without it).

Weight files ``registry`` are looked for where the stages look (``$SVCNET_WEIGHTS``, else ``<fetch root>/weights``);
``registry:<name>`` values where ``svcnet fetch <name>`` puts them under the fetch root.

The stage names are those of the DAG (:data:`STAGES`, the DVC stage names); :func:`record` fingerprints every input
per stage so a DVC stage can depend on exactly its own.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from svcnet.errors import ChecksumError
from svcnet.sources import (
    WEIGHTS_ENV,
    get_source,
    registry_ref,
    resolve_registry_path,
    sha256_file,
    verify_file,
)

STAGES = (
    "prepare@train",
    "prepare@eval",
    "saliency",
    "pack",
    "train_cpnet",
    "train_ssnet",
    "scribbles",
    "colorize_cpnet",
    "colorize_svcnet",
    "colorize_official_cpnet",
    "colorize_official_svcnet",
    "evaluate",
    "report",
)
LPIPS_SOURCE = "lpips_alexnet"
INIT_STAGE = {"vgg16": "train_cpnet", "cpnet": "train_cpnet"}  # other train.init entries are read by train_ssnet
OFFICIAL_WEIGHTS = {"official_cpnet": ("cpnet",), "official_svcnet": ("cpnet", "ssnet", "pwcnet")}


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One file or folder a profile reads: where, for which stages, from which registry entry, and its problem."""

    what: str  # the config key or method that names it
    path: Path
    kind: str  # file | folder
    stages: tuple[str, ...]
    source: str | None = None  # registry entry
    optional: bool = False  # the stage runs without it (``note`` says what is lost)
    note: str = ""
    problem: str = ""  # empty when present and verified
    archive: Path | None = None  # the downloaded archive a registry folder is unpacked from
    fetch: str = ""  # the `svcnet fetch NAME` or manual step of the registry entry

    def how_to_get(self) -> str:
        """One line: the ``svcnet fetch NAME`` or manual step that puts it in place."""
        if self.source is None:
            return f"put the {self.kind} there or change {self.what} in the config"
        if self.problem not in ("", "missing"):
            return f"remove it, then {self.fetch}"
        if self.archive is not None and self.archive.is_file():
            return f"run `svcnet fetch {self.source}` (it unpacks the archive {self.archive})"
        return self.fetch


def _fetch_text(name: str | None, fetch_root: str | os.PathLike) -> str:
    """The step that puts registry entry ``name`` in place under ``fetch_root`` (empty for no entry)."""
    if name is None:
        return ""
    src = get_source(name)
    if src.access == "direct":
        dest = f" --dest {fetch_root}" if Path(fetch_root) != Path(".") else ""
        return f"run `svcnet fetch {src.name}{dest}`"
    return " ".join(src.manual_step(fetch_root).split())


# ----------------------------------------------------------------------------------------------- deriving the list
def _weights_dir(fetch_root: str | os.PathLike) -> Path:
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env) if env else Path(fetch_root) / "weights"


def _weight(
    what: str, value: str | None, registry_name: str, stage: str, fetch_root: str | os.PathLike
) -> Requirement | None:
    """A weight file named by a config value: null = none; ``registry``; ``registry:<name>``; a path."""
    if value is None or value == "":
        return None
    if value == "registry":
        src = get_source(registry_name)
        path = _weights_dir(fetch_root) / src.file
        return Requirement(what, path, "file", (stage,), src.name, fetch=_fetch_text(src.name, fetch_root))
    name = registry_ref(value)
    path = resolve_registry_path(value, fetch_root)
    return Requirement(what, path, "file", (stage,), name, fetch=_fetch_text(name, fetch_root))


def _folder(what: str, value: str, stage: str, fetch_root: str | os.PathLike) -> Requirement:
    name = registry_ref(value)
    src = get_source(name) if name else None
    archive = src.dest_path(fetch_root) if src is not None and src.unpack is not None else None
    path = resolve_registry_path(value, fetch_root)
    return Requirement(what, path, "folder", (stage,), name, archive=archive, fetch=_fetch_text(name, fetch_root))


def _data(cfg: Any, split: str, fetch_root: str | os.PathLike) -> list[Requirement]:
    from svcnet.data.prepare import DEFAULT_ROOTS, DEFAULT_SEG

    cs = cfg.data.clipset(split)
    if cs.source == "demo":
        return []
    stage = f"prepare@{split}"
    out = []
    root = cs.root or DEFAULT_ROOTS.get(cs.source)
    if root:
        out.append(_folder(f"data.{split}.root", root, stage, fetch_root))
    seg = cs.seg or DEFAULT_SEG.get(cs.source)
    if seg:
        out.append(_folder(f"data.{split}.seg", seg, stage, fetch_root))
    return out


def _methods(cfg: Any) -> tuple[str, ...]:
    return tuple(cfg.section("evaluate").get("methods", ("gray", "levin", "cpnet", "svcnet")))


def _train(cfg: Any, fetch_root: str | os.PathLike) -> list[Requirement]:
    methods = _methods(cfg)
    if not {"cpnet", "svcnet"} & set(methods):
        return []
    train = cfg.section("train")
    init: Mapping[str, Any] = train.get("init", {})
    out: list[Requirement] = []
    cpnet1 = train.get("cpnet1", {})
    if cpnet1.get("duration", 1) > 0 and not init.get("cpnet") and cpnet1.get("images"):
        out.append(_folder("train.cpnet1.images", cpnet1["images"], "train_cpnet", fetch_root))
        seg_on = cpnet1.get("lambda_seg", 0.1) > 0 and cpnet1.get("seg_target", "auto") != "none"
        if seg_on and cpnet1.get("image_saliency"):
            out.append(_folder("train.cpnet1.image_saliency", cpnet1["image_saliency"], "train_cpnet", fetch_root))
    names = [n for n in init if "svcnet" in methods or INIT_STAGE.get(n) == "train_cpnet"]
    for name in names:
        stage = INIT_STAGE.get(name, "train_ssnet")
        req = _weight(f"train.init.{name}", init[name], name, stage, fetch_root)
        if req is not None:
            out.append(req)
    return out


def _pwcnet_value(value: str | None) -> str:
    return value if value else "registry"


def _stage_weights(cfg: Any, fetch_root: str | os.PathLike) -> list[Requirement]:
    out: list[Requirement] = []
    sal = cfg.section("saliency")
    if sal.get("method") == "pfan":
        out.append(_weight("saliency.weights", sal.get("weights") or "registry", "pfan", "saliency", fetch_root))
    scr = cfg.section("scribbles")
    if scr.get("flow") == "pwcnet" or scr.get("protocol") == "gcs":
        value = _pwcnet_value(scr.get("pwcnet_weights"))
        out.append(_weight("scribbles.pwcnet_weights", value, "pwcnet", "scribbles", fetch_root))
    for method, names in OFFICIAL_WEIGHTS.items():
        if method in _methods(cfg):
            for name in names:
                out.append(_weight(f"evaluate.methods: {method}", "registry", name, f"colorize_{method}", fetch_root))
    ev = cfg.section("evaluate")
    if ev.get("lpips", False):
        req = _weight("evaluate.lpips", ev.get("lpips_weights") or "registry", LPIPS_SOURCE, "evaluate", fetch_root)
        out.append(dataclasses.replace(req, optional=True, note="without it LPIPS is reported as n/a"))
    return out


def _merge(reqs: list[Requirement]) -> list[Requirement]:
    """One entry per path: the stages of duplicates joined, required when any duplicate is."""
    by_path: dict[Path, Requirement] = {}
    for r in reqs:
        old = by_path.get(r.path)
        if old is None:
            by_path[r.path] = r
        else:
            stages = tuple(dict.fromkeys(old.stages + r.stages))
            by_path[r.path] = dataclasses.replace(old, stages=stages, optional=old.optional and r.optional)
    return list(by_path.values())


def requirements(cfg: Any, fetch_root: str | os.PathLike = ".") -> list[Requirement]:
    """Every file and folder the stages of ``cfg`` (a :class:`svcnet.config.Config`) will read, unchecked."""
    reqs = _data(cfg, "train", fetch_root) if {"cpnet", "svcnet"} & set(_methods(cfg)) else []
    reqs += _data(cfg, "eval", fetch_root)
    reqs += _train(cfg, fetch_root)
    reqs += _stage_weights(cfg, fetch_root)
    return _merge(reqs)


# -------------------------------------------------------------------------------------------------------- checking
def check(req: Requirement) -> Requirement:
    """``req`` with ``problem`` set: missing, not a folder/file, or a sha256/size that differs from the registry."""
    if req.kind == "folder":
        if not req.path.is_dir():
            return dataclasses.replace(req, problem="missing" if not req.path.exists() else "not a folder")
        return req
    if not req.path.is_file():
        return dataclasses.replace(req, problem="missing" if not req.path.exists() else "not a file")
    if req.source is not None:
        try:
            verify_file(get_source(req.source), req.path)
        except ChecksumError as exc:
            detail = str(exc).split(";")[0].replace(f"{req.path} has ", "")
            return dataclasses.replace(req, problem=detail)
    return req


def missing_requirements(cfg: Any, fetch_root: str | os.PathLike = ".") -> list[Requirement]:
    """The requirements of ``cfg`` that are missing or fail their checksum (optional ones included, flagged)."""
    return [r for r in map(check, requirements(cfg, fetch_root)) if r.problem]


def required_inputs(cfg: Any, fetch_root: str | os.PathLike = ".") -> dict[str, list[str]]:
    """Stage name → the paths it reads (for Snakemake inputs / DVC deps); optional files only when present."""
    out: dict[str, list[str]] = {}
    for req in requirements(cfg, fetch_root):
        if req.optional and not req.path.exists():
            continue
        for stage in req.stages:
            out.setdefault(stage, []).append(str(req.path))
    return out


def fingerprint(req: Requirement) -> str:
    """What identifies an input's content: the sha256 of a file the registry verifies, else ``size:<bytes>`` for a
    file, ``files:<count>:<bytes>`` for a folder (all files below it), ``missing`` when absent."""
    if not req.path.exists():
        return "missing"
    if req.path.is_file():
        src = get_source(req.source) if req.source else None
        if src is not None and (src.sha256 or src.sha256_prefix):
            return f"sha256:{sha256_file(req.path)}"
        return f"size:{req.path.stat().st_size}"
    count = total = 0
    for folder, _, names in os.walk(req.path):
        for name in names:
            count += 1
            total += os.stat(os.path.join(folder, name)).st_size
    return f"files:{count}:{total}"


def record(cfg: Any, fetch_root: str | os.PathLike = ".") -> dict[str, dict[str, str]]:
    """Every stage of :data:`STAGES` → {path: :func:`fingerprint`} of the inputs it reads (``{}`` for none), sorted."""
    out: dict[str, dict[str, str]] = {stage: {} for stage in STAGES}
    for req in requirements(cfg, fetch_root):
        if req.optional and not req.path.exists():
            continue
        value = fingerprint(req)
        for stage in req.stages:
            out.setdefault(stage, {})[str(req.path)] = value
    return {stage: dict(sorted(paths.items())) for stage, paths in sorted(out.items())}


def format_missing(missing: list[Requirement]) -> str:
    """One line per missing item: what, where, why, and the step that fixes it."""
    lines = []
    for r in missing:
        flag = "optional" if r.optional else "MISSING"
        note = f" ({r.note})" if r.note else ""
        problem = "" if r.problem == "missing" else f" [{r.problem}]"
        lines.append(
            f"{flag}: {r.what} -> {r.path}{problem} (read by {', '.join(r.stages)}){note}; to get it: {r.how_to_get()}"
        )
    return "\n".join(lines)
