"""``svcnet evaluate`` as a library call: score every predicted video against its ground truth and write
``per_video.csv``, ``per_frame.csv`` and ``summary.json`` (one atomic folder), plus an optional flat metrics JSON for
``dvc metrics``."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from svcnet.data.atomic import atomic_path, remove_stale_temps, write_text_atomic
from svcnet.evaluate.lpips_backbone import load_lpips
from svcnet.evaluate.scoring import FRAME_METRICS, score_video
from svcnet.evaluate.videos import match_videos
from svcnet.ops.device import resolve_device

log = logging.getLogger(__name__)

VIDEO_COLUMNS = (
    "video",
    "frames",
    "psnr",
    "ssim",
    "psnr_lab",
    "ssim_lab",
    "lpips",
    "warp_error",
    "cdc",
    "psnr_256p",
    "ssim_256p",
)
METRICS = VIDEO_COLUMNS[2:]
FRAME_COLUMNS = ("video", "frame", *FRAME_METRICS, "warp_error")
TEMPORAL = ("warp_error", "cdc")

PROTOCOL = {
    "psnr_ssim": "RGB uint8 at the original resolution, data_range 255; SSIM = skimage structural_similarity "
    "defaults (7x7 uniform window, K1 0.01, K2 0.03, sample covariance), mean over channels",
    "first_frame": "excluded from per-frame metrics (official *_without_first_frame lists)",
    "mean": "per-frame metrics averaged over all evaluated frames of all videos (frame-weighted, official); "
    "warp_error and cdc averaged over frames (pairs) within a video, then over videos",
    "psnr_256p": "both images cv2.resize'd (bilinear) to 448x256 first, then as psnr/ssim",
    "lab": "(a, b) channels of OpenCV uint8 Lab compared in floating point, data_range 255; the official script's "
    "uint8 subtraction/square (wraps modulo 256) is not reproduced",
    "lpips": "lpips package, AlexNet trunk, v0.1 linear heads, inputs RGB in [-1, 1], per frame",
    "warp_error": "Lai et al. 2018: prediction frame t+1 backward-warped onto t (grid_sample, bilinear, border) by "
    "the flow of the input frames t -> t+1; masked MSE on RGB in [0, 1] over pixels that are neither "
    "occluded (forward-backward check) nor on motion boundaries; at the evaluation resolution",
    "cdc": "TCVC colour distribution consistency: per-channel 256-bin histograms, Jensen-Shannon divergence "
    "(natural log) at frame distances 1, 2, 4 weighted 1/3 each, mean over channels",
}


@dataclass(frozen=True)
class EvaluateOptions:
    """Settings of one evaluation run (config section ``evaluate`` and CLI options)."""

    method: str | None = None
    dataset: str | None = None
    exclude_first: bool = True
    flow_preset: str = "medium"
    batch: int = 8
    lpips: bool = True
    lpips_weights: str | None = None
    lpips_verify: bool = True
    device: str = "auto"


def _versions() -> dict[str, str]:
    import cv2
    import skimage

    from svcnet import __version__

    out = {
        "svcnet": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "scikit-image": skimage.__version__,
    }
    try:
        from importlib.metadata import version

        out["lpips"] = version("lpips")
    except Exception:  # pragma: no cover - lpips is a dependency
        pass
    return out


def json_number(x: float | None) -> float | str | None:
    """A JSON-safe number: finite floats as is, ±inf as the strings "inf"/"-inf", nan/None as null."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return "inf" if math.isinf(x) else f"{x:.6g}"


def _mean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def evaluate_folders(
    pred: str | os.PathLike,
    gt: str | os.PathLike,
    out: str | os.PathLike,
    options: EvaluateOptions = EvaluateOptions(),
    metrics_file: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Score ``pred`` against ``gt`` (folders of videos); writes ``out``/{per_video.csv, per_frame.csv,
    summary.json} atomically and returns the summary."""
    pairs = match_videos(pred, gt)  # all layout errors before any work
    device = resolve_device(options.device)
    setup = load_lpips(options.lpips_weights, device, options.lpips_verify) if options.lpips else None
    if device.type == "cpu":
        # The per-frame tensors are small: OpenMP threads only add barrier waits, which are costly on a busy machine
        # (docs/measurements.md §1). Restored afterwards.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return _evaluate(pairs, pred, gt, out, options, device, setup, metrics_file, progress)
        finally:
            torch.set_num_threads(threads)
    return _evaluate(pairs, pred, gt, out, options, device, setup, metrics_file, progress)


def _evaluate(
    pairs: list,
    pred: str | os.PathLike,
    gt: str | os.PathLike,
    out: str | os.PathLike,
    options: EvaluateOptions,
    device: torch.device,
    setup,
    metrics_file,
    progress: bool,
) -> dict:
    from tqdm import tqdm

    lpips_reason = "disabled (evaluate.lpips: false)" if setup is None else setup.reason
    model = setup.model if setup is not None else None
    video_rows, frame_rows = [], []
    all_frames: dict[str, list[float]] = {k: [] for k in FRAME_METRICS}
    for pair in tqdm(pairs, desc="evaluate", unit="video", disable=not progress):
        p, g = pair.read()
        s = score_video(p, g, device, model, options.exclude_first, options.flow_preset, options.batch)
        row = {"video": pair.name, "frames": len(s.frames)}
        for k in FRAME_METRICS:
            vals = s.per_frame.get(k)
            row[k] = float(np.mean(vals)) if vals is not None and len(vals) else float("nan")
            if vals is not None:
                all_frames[k].extend(vals.tolist())
        row["warp_error"], row["cdc"] = s.warp_error, s.cdc
        video_rows.append(row)
        for i, idx in enumerate(s.frames):
            fr = {"video": pair.name, "frame": pair.gt[idx].stem}
            for k in FRAME_METRICS:
                fr[k] = s.per_frame[k][i] if k in s.per_frame else float("nan")
            fr["warp_error"] = s.warp_pairs[idx - 1] if idx >= 1 and len(s.warp_pairs) else float("nan")
            frame_rows.append(fr)
    means = {k: (_mean(all_frames[k]) if k not in TEMPORAL else _mean([r[k] for r in video_rows])) for k in METRICS}
    video_means = {k: _mean([r[k] for r in video_rows]) for k in METRICS}
    na = {}
    if model is None:
        na["lpips"] = lpips_reason
    short = [r["video"] for r in video_rows if math.isnan(r["cdc"])]
    if short:
        na["cdc"] = f"needs more than 4 frames per video (TCVC distances 1, 2, 4): {', '.join(short)}"
    summary = {
        "tool": "svcnet evaluate",
        "method": options.method or Path(pred).name,
        "dataset": options.dataset or Path(gt).name,
        "pred": str(pred),
        "gt": str(gt),
        "videos": len(video_rows),
        "frames": sum(r["frames"] for r in video_rows),
        "means": {k: json_number(v) for k, v in means.items()},
        "video_means": {k: json_number(v) for k, v in video_means.items()},
        "not_available": na,
        "protocol": PROTOCOL,
        "options": {k: v for k, v in asdict(options).items() if k not in ("method", "dataset")},
        "flow": {
            "backend": "opencv-dis",
            "preset": options.flow_preset,
            "computed_on": "ground-truth frames (DIS sees their BT.601 luma, i.e. the grayscale input)",
            "scale": "evaluation resolution",
        },
        "lpips": {"backbone": setup.backbone if setup else None, "reason": lpips_reason},
        "device": str(device),
        "versions": _versions(),
    }
    out = Path(out)
    remove_stale_temps(out)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        (tmp / "per_video.csv").write_text(_csv(VIDEO_COLUMNS, video_rows))
        (tmp / "per_frame.csv").write_text(_csv(FRAME_COLUMNS, frame_rows))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if metrics_file is not None:
        flat = {"method": summary["method"], "dataset": summary["dataset"], **summary["means"]}
        write_text_atomic(metrics_file, json.dumps(flat, indent=2) + "\n")
    return summary


def _csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (_fmt(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()
