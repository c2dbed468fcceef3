"""The training side of the report: each stage's learning curve (loss.png) and a summary row from its log.csv and
summary.json (the global batch: per-process batch x processes x gradient accumulation).

A training folder is what ``svcnet train`` writes: ``log.csv`` (iteration, loss columns, it_per_s), ``loss.png``,
``summary.json``; a CPNet folder holds one such folder per stage (``cpnet1/``, ``cpnet2/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from svcnet.errors import InputError

LOG_NAME = "log.csv"
CURVE_NAME = "loss.png"
SUMMARY_NAME = "summary.json"
HEADER = [
    "Stage",
    "Iterations",
    "Global batch (per process x processes x accumulation)",
    "Loss, first 10 %",
    "Loss, last 10 %",
    "Change",
    "it/s (median)",
]


@dataclass(frozen=True)
class TrainingRun:
    """One training stage's learning curve in numbers."""

    name: str
    iterations: int
    loss_first: float  # mean of the logged `loss` over the first 10 % of the logged rows
    loss_last: float  # the same over the last 10 %
    it_per_s: float
    curve: Path | None
    batch: str = "n/a"  # "32 = 4 x 2 x 4" from summary.json; n/a for a run that has not finished
    cpu: dict = field(default_factory=dict)  # threads, cpu_isa, cpu_capability of the run (its run.json)

    def row(self) -> list[str]:
        change = (self.loss_last - self.loss_first) / self.loss_first if self.loss_first else float("nan")
        return [
            self.name,
            str(self.iterations),
            self.batch,
            f"{self.loss_first:.4f}",
            f"{self.loss_last:.4f}",
            f"{100 * change:+.1f} %",
            f"{self.it_per_s:.3g}",
        ]


def load_training_run(folder: str | Path, name: str | None = None) -> TrainingRun:
    """Summarise one stage folder (its log.csv; loss.png when present)."""
    import pandas as pd

    folder = Path(folder)
    log = folder / LOG_NAME
    if not log.is_file():
        raise InputError(f"{log} not found: give a training output folder (svcnet train ... --out FOLDER)")
    df = pd.read_csv(log)
    if df.empty or "loss" not in df or "iteration" not in df:
        raise InputError(f"{log} has no logged iterations (columns iteration, loss)")
    k = max(1, len(df) // 10)
    curve = folder / CURVE_NAME
    speed = df["it_per_s"].median() if "it_per_s" in df else float("nan")
    return TrainingRun(
        name or folder.name,
        int(df["iteration"].iloc[-1]),
        float(df["loss"].iloc[:k].mean()),
        float(df["loss"].iloc[-k:].mean()),
        float(speed),
        curve if curve.is_file() else None,
        global_batch(folder),
        _cpu(folder / "run.json"),
    )


def global_batch(folder: Path) -> str:
    """``"G = B x P x A"`` from the folder's summary.json (a finished run), else ``n/a``."""
    path = folder / SUMMARY_NAME
    summary = json.loads(path.read_text()) if path.is_file() else {}
    if "global_batch" not in summary:
        return "n/a"
    return f"{summary['global_batch']} = {summary['batch_size']} x {summary['processes']} x {summary['accumulation']}"


def _cpu(run_json: Path) -> dict:
    """The CPU settings a training stage recorded in its run.json (empty for runs that recorded none)."""
    try:
        meta = json.loads(run_json.read_text()).get("meta", {})
    except (OSError, ValueError):
        return {}
    return {k: meta[k] for k in ("threads", "cpu_isa", "cpu_capability") if k in meta}


def find_training_runs(root: str | Path) -> list[TrainingRun]:
    """Every stage folder under ``root`` (``root`` itself or its sub-folders holding a log.csv), by path."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"training folder not found: {root}")
    logs = sorted(p for p in root.rglob(LOG_NAME) if "checkpoints" not in p.relative_to(root).parts)
    if not logs:
        raise InputError(f"no {LOG_NAME} under {root}: give a training output folder (svcnet train ... --out)")
    return [load_training_run(p.parent, p.parent.name) for p in logs]
