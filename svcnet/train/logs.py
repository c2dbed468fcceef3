"""Training logs: a per-iteration CSV, TensorBoard scalars and a loss-curve PNG (written by the main process only)."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from svcnet.data.atomic import atomic_path, write_text_atomic

log = logging.getLogger(__name__)

CSV_NAME = "log.csv"
TB_DIR = "tensorboard"
PLOT_NAME = "loss.png"


class CsvLog:
    """Append-only per-iteration CSV (``iteration, <losses...>, lr..., it_per_s``).

    On resume the rows after the resumed iteration (written after the last checkpoint by a killed run) are dropped
    first, so the file always describes one uninterrupted run.
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str], resume_from: int | None = None) -> None:
        self.path = Path(path)
        self.columns = ["iteration", *columns]
        kept: list[str] = []
        if resume_from is not None and self.path.is_file():
            lines = self.path.read_text().splitlines()
            if lines and lines[0].split(",") == self.columns:
                kept = [ln for ln in lines[1:] if ln and int(ln.split(",", 1)[0]) <= resume_from]
        write_text_atomic(self.path, "\n".join([",".join(self.columns), *kept]) + "\n")
        self._fh = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._writer = csv.writer(self._fh)

    def write(self, iteration: int, values: Mapping[str, float]) -> None:
        self._writer.writerow([iteration, *(_fmt(values.get(c)) for c in self.columns[1:])])
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


class TensorBoardLog:
    """Scalars under ``<out>/tensorboard`` (events after the resumed iteration are purged on resume)."""

    def __init__(self, folder: str | os.PathLike, resume_from: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder), purge_step=None if resume_from is None else resume_from + 1)

    def write(self, iteration: int, values: Mapping[str, float], prefix: str = "train") -> None:
        for k, v in values.items():
            if v is not None:
                self.writer.add_scalar(f"{prefix}/{k}", v, iteration)

    def text(self, tag: str, text: str) -> None:
        self.writer.add_text(tag, text)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def read_csv_log(path: str | os.PathLike) -> dict[str, list[float]]:
    """Columns of a :class:`CsvLog` file as float lists (empty cells → NaN)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    return {k: [float(r[k]) if r[k] not in ("", None) else float("nan") for r in rows] for k in rows[0]}


def plot_loss_curve(csv_path: str | os.PathLike, png_path: str | os.PathLike, title: str = "", smooth: int = 0) -> Path:
    """Loss columns (``loss*``) against iteration, log scale, with a moving average; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = read_csv_log(csv_path)
    it = np.asarray(cols.get("iteration", []))
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    names = [k for k in cols if k.startswith("loss")]
    for name in names:
        y = np.asarray(cols[name], dtype=float)
        ok = np.isfinite(y)
        if not ok.any():
            continue
        w = smooth or max(1, len(y) // 25)
        line = ax.plot(it[ok], y[ok], alpha=0.3 if w > 1 else 1.0, lw=0.8)[0]
        if w > 1 and ok.sum() > w:
            ys = np.convolve(y[ok], np.ones(w) / w, mode="valid")
            ax.plot(it[ok][w - 1 :], ys, color=line.get_color(), lw=1.6, label=f"{name} (mean of {w})")
        else:
            line.set_label(name)
    if names and it.size and np.nanmin([np.nanmin(cols[n]) for n in names]) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if names:
        ax.legend(fontsize=8)
    fig.tight_layout()
    png_path = Path(png_path)
    with atomic_path(png_path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return png_path
