"""GPUs each kind of DAG job may use, from the resolved configuration (a plain dict): the ``gpu`` resource the
Snakemake rules declare, so that ``--resources gpu=N`` never oversubscribes and the SLURM profile requests them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def gpus(device: str | None, count: int = 1) -> int:
    """``count`` GPUs for a stage whose device setting is ``auto`` or ``cuda`` (auto takes CUDA when present), none
    for ``cpu``."""
    return 0 if device == "cpu" else count


def dag_gpus(cfg: Mapping[str, Any]) -> dict[str, int]:
    """GPUs per job kind: ``train`` (one per process), ``colorize`` (CPNet / SVCNet inference), ``saliency`` (PFAN,
    when the method may pick it) and ``evaluate`` (LPIPS, when on)."""
    train, sal, ev = cfg.get("train", {}), cfg.get("saliency", {}), cfg.get("evaluate", {})
    return {
        "train": gpus(train.get("device"), int(train.get("processes", 1))),
        "colorize": gpus(cfg.get("infer", {}).get("device")),
        "saliency": gpus(sal.get("device")) if sal.get("method", "auto") in ("auto", "pfan") else 0,
        "evaluate": gpus(ev.get("device")) if ev.get("lpips", True) else 0,
    }
