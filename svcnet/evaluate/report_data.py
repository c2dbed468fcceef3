"""What a report shows: the evaluation summaries and CSVs, and the provenance header (config, commit, data hashes)."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from svcnet.errors import InputError
from svcnet.evaluate.videos import list_videos


@dataclass(frozen=True)
class EvalRun:
    """One ``svcnet evaluate`` output folder."""

    folder: Path
    summary: dict
    per_video: list[dict]
    per_frame: list[dict]

    @property
    def method(self) -> str:
        return self.summary["method"]

    @property
    def dataset(self) -> str:
        return self.summary["dataset"]


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def load_run(folder: str | Path) -> EvalRun:
    """Read an evaluate output folder; InputError naming the missing file."""
    folder = Path(folder)
    for name in ("summary.json", "per_video.csv", "per_frame.csv"):
        if not (folder / name).is_file():
            raise InputError(f"{folder / name} not found: --eval takes folders written by `svcnet evaluate`")
    summary = json.loads((folder / "summary.json").read_text())
    return EvalRun(folder, summary, _rows(folder / "per_video.csv"), _rows(folder / "per_frame.csv"))


def git_commit(cwd: Path | None = None) -> str:
    """``git rev-parse HEAD`` (+ ``-dirty``), or ``unknown`` outside a repository."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def data_hashes(gt_root: str | Path) -> dict[str, str]:
    """Per video, sha256 (first 16 hex) over its frame names and bytes in numeric order."""
    from svcnet.data.frames import list_frames

    out = {}
    for name, folder in list_videos(gt_root, "ground-truth").items():
        h = hashlib.sha256()
        for f in list_frames(folder):
            h.update(f.name.encode())
            h.update(f.read_bytes())
        out[name] = h.hexdigest()[:16]
    return out


def weights_used(pred_root: str | Path) -> dict[str, object]:
    """What the method's own metadata.json files say about weights, flow, saliency and lightness (first video;
    ``<clip>/`` or ``<tag>/<clip>/``)."""
    root = Path(pred_root)
    for meta in sorted(root.glob("*/metadata.json")) + sorted(root.glob("*/*/metadata.json")):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        keys = ("weight", "sha256", "flow", "checkpoint", "method", "tool", "saliency", "lightness")
        keep = {k: v for k, v in data.items() if any(t in k for t in keys)}
        return keep
    return {}


BASELINE_LIGHTNESS = {"gray": "BT.601 luma (the gray input itself)", "levin": "YIQ luma of the input (kept)"}


def output_lightness(method: str, used: dict[str, object]) -> str:
    """The lightness a method's frames carry: the baselines' own, else what its metadata.json recorded."""
    if method in BASELINE_LIGHTNESS:
        return BASELINE_LIGHTNESS[method]
    return {"input": "input (each frame's own Lab L)", "official": "official (BT.601 luma as Lab L)"}.get(
        str(used.get("lightness")), "not recorded"
    )


def saliency_backend(config: dict | None, root: str | Path = ".") -> str:
    """The config's saliency setting and, where the training clips' maps exist (``data/<profile>/saliency/train``,
    as both DAGs write them), the method each clip actually used."""
    section = (config or {}).get("saliency")
    if not section:
        return "not configured"
    text = f"method {section.get('method', 'auto')}, fallback {section.get('fallback')}"
    used = {}
    for meta in sorted(
        (Path(root) / "data" / str(config.get("profile")) / "saliency" / "train").glob("*/metadata.json")
    ):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        used[data.get("clip", meta.parent.name)] = data.get("method")
    return text + ("; used: " + ", ".join(f"{c}={m}" for c, m in used.items()) if used else "")
