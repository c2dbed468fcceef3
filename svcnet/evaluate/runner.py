"""``svcnet evaluate`` as a library call: score every predicted video against its ground truth and write
``per_video.csv``, ``per_frame.csv`` and ``summary.json`` (one atomic folder), plus an optional flat metrics JSON for
``dvc metrics``. Both carry the means over all videos and, under ``test_sets``, the means of each test set (the part
of a clip id before its slash, :mod:`svcnet.data.testsets`)."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import platform
from dataclasses import asdict, dataclass, field
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
    "psnr_ssim": "RGB uint8 at the ground truth's resolution (see resolution), data_range 255; SSIM = skimage "
    "structural_similarity defaults (7x7 uniform window, K1 0.01, K2 0.03, sample covariance), mean over channels",
    "mean": "per-frame metrics averaged over all evaluated frames of all videos (frame-weighted, official); "
    "warp_error and cdc averaged over frames (pairs) within a video, then over videos",
    "psnr_256p": "both images cv2.resize'd (bilinear) to 448x256 first, then as psnr/ssim",
    "lab": "(a, b) channels of OpenCV uint8 Lab compared in floating point, data_range 255; the official script's "
    "uint8 subtraction/square (wraps modulo 256) is not reproduced",
    "lpips": "lpips package, AlexNet trunk, v0.1 linear heads, inputs RGB in [-1, 1], per frame",
    "warp_error": "Lai et al. 2018 (evaluate_WarpError.py): prediction frame t+1 backward-warped onto t (bilinear, "
    "border clamped) by the flow of the input frames t -> t+1; squared difference on RGB in [0, 1] summed over the "
    "usable pixels (warp_mask) and channels, divided by (usable pixels x 3); a pair without a usable pixel scores 0; "
    "mean over all pairs of a video; at the evaluation resolution",
    "cdc": "TCVC colour distribution consistency: per-channel 256-bin histograms, Jensen-Shannon divergence "
    "(natural log) at frame distances 1, 2, 4 weighted 1/3 each, mean over channels",
}
FIRST_FRAME = {
    True: "excluded from per-frame metrics (official *_without_first_frame lists)",
    False: "included in per-frame metrics",
}
WARP_MASKS = {
    "reference": "usable = passes the forward-backward check |fw(p+bw)+bw|^2 <= 0.01(|fw(p+bw)|^2+|bw|^2)+0.5 and "
    "is not on a motion boundary |grad u|^2+|grad v|^2 <= 0.01|bw|^2+0.002 (Lai et al.'s mask: a pixel whose flow "
    "leaves the frame is kept and compared with the border-clamped sample)",
    "strict": "the reference mask minus the pixels whose flow leaves the frame",
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
    warp_mask: str = "reference"
    protocol: str = "svcnet"


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
    model = setup.model if setup is not None else None
    scores = _score_pairs(pairs, options, device, model, progress)
    summary = _summary(scores, pred, gt, options, device, setup)
    _write(out, scores, summary, metrics_file)
    return summary


@dataclass
class _Scores:
    """Every pair's scores: one row per video, one per evaluated frame, and each video's per-frame values."""

    video_rows: list[dict] = field(default_factory=list)
    frame_rows: list[dict] = field(default_factory=list)
    frame_values: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # video -> metric -> values
    sizes: dict[str, list[int]] = field(default_factory=dict)  # video -> [H, W] of its ground truth


def _score_pairs(pairs: list, options: EvaluateOptions, device: torch.device, model, progress: bool) -> _Scores:
    from tqdm import tqdm

    scores = _Scores()
    for pair in tqdm(pairs, desc="evaluate", unit="video", disable=not progress):
        p, g = pair.read()
        scores.sizes[pair.name] = [int(g.shape[1]), int(g.shape[2])]
        s = score_video(
            p, g, device, model, options.exclude_first, options.flow_preset, options.batch, options.warp_mask
        )
        row = {"video": pair.name, "frames": len(s.frames)}
        values = scores.frame_values[pair.name] = {}
        for k in FRAME_METRICS:
            vals = s.per_frame.get(k)
            row[k] = float(np.mean(vals)) if vals is not None and len(vals) else float("nan")
            values[k] = vals.tolist() if vals is not None else []
        row["warp_error"], row["cdc"] = s.warp_error, s.cdc
        scores.video_rows.append(row)
        for i, idx in enumerate(s.frames):
            fr = {"video": pair.name, "frame": pair.gt[idx].stem}
            for k in FRAME_METRICS:
                fr[k] = s.per_frame[k][i] if k in s.per_frame else float("nan")
            fr["warp_error"] = s.warp_pairs[idx - 1] if idx >= 1 and len(s.warp_pairs) else float("nan")
            scores.frame_rows.append(fr)
    return scores


def _summary(scores: _Scores, pred, gt, options: EvaluateOptions, device: torch.device, setup) -> dict:
    """summary.json: the means, what is not available and why, the protocol and what a rerun needs."""
    video_rows = scores.video_rows
    lpips_reason = "disabled (evaluate.lpips: false)" if setup is None else setup.reason
    na = {}
    if setup is None or setup.model is None:
        na["lpips"] = lpips_reason
    short = [r["video"] for r in video_rows if math.isnan(r["cdc"])]
    if short:
        na["cdc"] = f"needs more than 4 frames per video (TCVC distances 1, 2, 4): {', '.join(short)}"
    return {
        "tool": "svcnet evaluate",
        "method": options.method or Path(pred).name,
        "dataset": options.dataset or Path(gt).name,
        "pred": str(pred),
        "gt": str(gt),
        "videos": len(video_rows),
        "frames": sum(r["frames"] for r in video_rows),
        "means": _means(video_rows, scores.frame_values)["means"],
        "video_means": {k: json_number(_mean([r[k] for r in video_rows])) for k in METRICS},
        "test_sets": test_set_means(video_rows, scores.frame_values),
        "not_available": na,
        "protocol": {
            "name": options.protocol,
            **PROTOCOL,
            "first_frame": FIRST_FRAME[options.exclude_first],
            "warp_mask": f"{options.warp_mask}: {WARP_MASKS[options.warp_mask]}",
        },
        "resolution": resolution(gt, scores.sizes),
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


def _write(out: str | os.PathLike, scores: _Scores, summary: dict, metrics_file) -> None:
    """OUT/per_video.csv, per_frame.csv and summary.json as one atomic folder, then the DAG's metrics file."""
    out = Path(out)
    remove_stale_temps(out)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        (tmp / "per_video.csv").write_text(_csv(VIDEO_COLUMNS, scores.video_rows))
        (tmp / "per_frame.csv").write_text(_csv(FRAME_COLUMNS, scores.frame_rows))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if metrics_file is not None:
        flat = {
            "method": summary["method"],
            "dataset": summary["dataset"],
            **summary["means"],
            "test_sets": summary["test_sets"],
        }
        write_text_atomic(metrics_file, json.dumps(flat, indent=2) + "\n")


def _means(video_rows: list[dict], frame_values: dict[str, dict[str, list[float]]]) -> dict:
    """Protocol means of some videos: per-frame metrics over all their evaluated frames (frame-weighted), temporal
    metrics over videos; with the counts of frames and videos."""
    means = {}
    for k in METRICS:
        if k in TEMPORAL:
            means[k] = _mean([r[k] for r in video_rows])
        else:
            means[k] = _mean([v for r in video_rows for v in frame_values[r["video"]].get(k, [])])
    return {
        "means": {k: json_number(v) for k, v in means.items()},
        "frames": sum(r["frames"] for r in video_rows),
        "videos": len(video_rows),
    }


def test_set_means(video_rows: list[dict], frame_values: dict[str, dict[str, list[float]]]) -> dict[str, dict]:
    """``{test set: {metric: mean, ..., "frames": n, "videos": n}}``; the test set of a video is the part of its
    clip id before the slash (a flat id: ``svcnet.data.testsets.DEFAULT_TEST_SET``)."""
    from svcnet.data.testsets import split_test_sets

    by_name = {r["video"]: r for r in video_rows}
    out = {}
    for name, ids in split_test_sets([r["video"] for r in video_rows]).items():
        m = _means([by_name[i] for i in ids], frame_values)
        out[name] = {**m["means"], "frames": m["frames"], "videos": m["videos"]}
    return out


def resolution(gt: str | os.PathLike, sizes: dict[str, list[int]]) -> dict:
    """What resolution the ground truth had: its frame sizes and, for a prepared split (manifest.json), whether
    its frames are the originals (``data.eval.keep_size``) or copies at the working size."""
    distinct = sorted({f"{w}x{h}" for h, w in sizes.values()})
    manifest = Path(gt) / "manifest.json"
    kind = "as given"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            data = {}
        if data.get("keep_size"):
            kind = "original"
        elif "height" in data and "width" in data:
            kind = f"working-size copy {data['width']}x{data['height']}"
    return {"ground_truth": kind, "frame_sizes": distinct}


def _csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (_fmt(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()
