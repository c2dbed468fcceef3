"""One method on every clip of a prepared split, exactly as one ``svcnet baseline`` / ``svcnet colorize`` per clip (the
Snakemake jobs) would: DVC's batch form of the per-clip DAG jobs, into ``OUT/<clip>/``; finished clips are skipped."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from svcnet.errors import InputError
from svcnet.infer.models import WeightOptions
from svcnet.ops.lightness import DEFAULT_LIGHTNESS, check_lightness

BASELINES = ("gray", "levin")
NETWORKS = ("cpnet", "svcnet")
OFFICIAL = {"official_cpnet": "cpnet", "official_svcnet": "svcnet"}  # released weights, registry cpnet / ssnet
METHODS = (*BASELINES, *NETWORKS, *OFFICIAL)


@dataclass(frozen=True)
class InferSettings:
    """How the networks run on each clip (the baselines use the working size only)."""

    work_size: tuple[int, int] = (256, 448)
    lightness: str = DEFAULT_LIGHTNESS
    edge: str = "mirror"
    device: str = "auto"


def configured_settings(config: Sequence[os.PathLike] | None, profile: str | None) -> InferSettings:
    """The settings of ``config`` (data.height x data.width, infer.lightness / edge / device), else the defaults."""
    if not config:
        return InferSettings()
    from svcnet.config import load_config

    cfg = load_config(config, profile)
    infer = cfg.section("infer")
    return InferSettings(
        work_size=(cfg.data.height, cfg.data.width),
        lightness=check_lightness(infer.get("lightness", DEFAULT_LIGHTNESS)),
        edge=infer.get("edge", "mirror"),
        device=infer.get("device") or "auto",
    )


def split_clips(root: Path) -> list[str]:
    """Clip ids of a prepared split ``root/<clip>/frames/`` or ``root/<tag>/<clip>/frames/``, in name order."""
    from svcnet.data.clips import clip_ids

    if not root.is_dir():
        raise InputError(f"{root} is not a folder; give a prepared split (svcnet prepare --out ...)")
    clips = [c for c in clip_ids(root) if (root / c / "frames").is_dir()]
    if not clips:
        raise InputError(f"{root} holds no clip (<clip>/frames/); give a prepared split (svcnet prepare --out ...)")
    return clips


def check_method(method: str, scribbles: Path | None, weights: WeightOptions) -> None:
    """Refuse an unknown method, official weights given as files, or a scribbled method without scribbles."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method in OFFICIAL and (weights.cpnet is not None or weights.ssnet is not None):
        raise InputError(f"--method {method} uses the released weights (--weights); drop --cpnet / --ssnet")
    if method != "gray" and scribbles is None:
        raise InputError(f"--method {method} needs --scribbles (a folder <clip>/<frame>_256p.png per clip)")


def infer_set(
    split: Path,
    out: Path,
    method: str,
    scribbles: Path | None,
    settings: InferSettings,
    weights: WeightOptions,
    force: bool = False,
    progress: bool = True,
    on_done: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Run ``method`` on every clip of ``split`` into ``out/<clip>/``; returns the output folders. Every clip's
    scribbles are checked before the first clip runs."""
    check_method(method, scribbles, weights)
    clips = split_clips(split)
    if method == "gray":
        scribbles = None
    if scribbles is not None:
        missing = [c for c in clips if not (scribbles / c).is_dir()]
        if missing:
            hint = f"run svcnet scribbles on {split} first"
            raise InputError(f"no scribbles for clip(s) {', '.join(missing)} under {scribbles} ({hint})")
    done = []
    for clip in clips:
        frames, dest = split / clip / "frames", out / clip
        clip_scribbles = str(scribbles / clip) if scribbles is not None else None
        if method in BASELINES:
            _baseline(method, frames, clip_scribbles, dest, settings, force, progress)
        else:
            _network(method, frames, clip_scribbles, dest, settings, weights, force, progress)
        done.append(dest)
        if on_done is not None:
            on_done(dest)
    return done


def _baseline(method, frames: Path, scribbles, dest: Path, settings: InferSettings, force, progress) -> None:
    from svcnet.evaluate.baseline import BaselineRequest, run_baseline

    request = BaselineRequest(method=method, input=str(frames), scribbles=scribbles, work_size=settings.work_size)
    run_baseline(request, dest, force=force, progress=progress)


def _network(method, frames: Path, scribbles, dest: Path, settings: InferSettings, weights, force, progress) -> None:
    from svcnet.infer.run import ColorizeRequest, colorize_files
    from svcnet.ops.device import cap_cpu_threads

    cap_cpu_threads()
    request = ColorizeRequest(
        input=str(frames),
        scribbles=scribbles,
        method=OFFICIAL.get(method, method),
        work_size=settings.work_size,
        lightness=settings.lightness,
        edge=settings.edge,
        shots="none",  # every evaluation clip is one shot
    )
    colorize_files(request, dest, weights, device=settings.device, force=force, progress=progress)
