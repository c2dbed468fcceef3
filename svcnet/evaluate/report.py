"""``svcnet report``: Markdown tables like the paper's, per-video CSV, PNG plots, side-by-side GIFs and index.html.

Everything is written into one folder atomically. Values that could not be measured are shown as ``n/a`` with the
reason from the evaluation (never a number).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from svcnet.data.atomic import atomic_path, remove_stale_temps
from svcnet.evaluate.report_data import (
    EvalRun,
    data_hashes,
    git_commit,
    output_lightness,
    saliency_backend,
    weights_used,
)
from svcnet.evaluate.report_training import HEADER as TRAIN_HEADER
from svcnet.evaluate.report_training import TrainingRun

MAIN = (
    ("psnr", "PSNR ↑", 2),
    ("ssim", "SSIM ↑", 4),
    ("lpips", "LPIPS ↓", 4),
    ("warp_error", "Warp err. ↓", 5),
    ("cdc", "CDC ↓", 5),
)
EXTRA = (
    ("psnr_lab", "PSNR ab ↑", 2),
    ("ssim_lab", "SSIM ab ↑", 4),
    ("psnr_256p", "PSNR 256p ↑", 2),
    ("ssim_256p", "SSIM 256p ↑", 4),
)
BAR_METRICS = ("psnr", "ssim", "warp_error", "cdc")


def fmt(value: object, digits: int) -> str:
    """A table cell: numbers rounded, inf as ∞, missing as n/a."""
    if value is None or value == "n/a":
        return "n/a"
    if value == "inf":
        return "∞"
    x = float(value)
    if math.isnan(x):
        return "n/a"
    return "∞" if math.isinf(x) else f"{x:.{digits}f}"


def _num(value: object) -> float:
    if value in (None, "n/a", ""):
        return float("nan")
    return float("inf") if value == "inf" else float(value)


def tables(runs: Sequence[EvalRun], columns: Sequence[tuple[str, str, int]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (methods × datasets × metrics) of one results table."""
    datasets = list(dict.fromkeys(r.dataset for r in runs))
    methods = list(dict.fromkeys(r.method for r in runs))
    by = {(r.method, r.dataset): r for r in runs}
    header = ["Method"] + [f"{d} {label}" if len(datasets) > 1 else label for d in datasets for _, label, _ in columns]
    rows = []
    for m in methods:
        row = [m]
        for d in datasets:
            run = by.get((m, d))
            for key, _, digits in columns:
                row.append(fmt(run.summary["means"].get(key), digits) if run else "–")
        rows.append(row)
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plot_bars(runs: Sequence[EvalRun], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    videos = list(dict.fromkeys(v["video"] for r in runs for v in r.per_video))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(videos) * max(1, len(runs)) / 2), 3.2))
    width = 0.8 / max(1, len(runs))
    for i, run in enumerate(runs):
        vals = {v["video"]: _num(v[metric]) for v in run.per_video}
        ys = [vals.get(v, float("nan")) for v in videos]
        ys = [y if math.isfinite(y) else float("nan") for y in ys]
        ax.bar(np.arange(len(videos)) + i * width, ys, width, label=f"{run.method} ({run.dataset})")
    ax.set_xticks(np.arange(len(videos)) + width * (len(runs) - 1) / 2, videos, rotation=30, ha="right")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per video (∞ / n/a not drawn)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_frames(runs: Sequence[EvalRun], video: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    for run in runs:
        rows = [r for r in run.per_frame if r["video"] == video]
        ys = [_num(r["psnr"]) for r in rows]
        ax.plot(range(len(rows)), [y if math.isfinite(y) else float("nan") for y in ys], label=run.method)
    ax.set_xlabel("evaluated frame index")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{video}: PSNR over frames")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _side_by_side(
    runs: Sequence[EvalRun], video: str, scribbles: Path | None, path: Path, max_frames: int, scale: float
) -> bool:
    """GIF: gray | scribbles | each method | GT. False when the frames cannot be found."""
    import cv2
    import imageio.v3 as iio

    from svcnet.data.frames import list_frames, read_rgb
    from svcnet.evaluate.levin import gray_frame
    from svcnet.evaluate.videos import frame_dir

    gt_dir = frame_dir(Path(runs[0].summary["gt"]) / video)
    if gt_dir is None:
        return False
    gt_files = list_frames(gt_dir)[:max_frames]
    scr = {}
    if scribbles is not None and (scribbles / video).is_dir():
        for f in list_frames(scribbles / video):
            scr[f.stem.split("_")[0].lstrip("0") or "0"] = f
    frames = []
    for g in gt_files:
        gt = read_rgb(g)
        h, w = gt.shape[:2]
        tiles = [gray_frame(gt)]
        s = scr.get(g.stem.lstrip("0") or "0")
        tiles.append(cv2.resize(read_rgb(s), (w, h), interpolation=cv2.INTER_NEAREST) if s else np.zeros_like(gt))
        for run in runs:
            pdir = frame_dir(Path(run.summary["pred"]) / video)
            cand = [p for p in (list_frames(pdir) if pdir else []) if p.stem == g.stem]
            tiles.append(read_rgb(cand[0]) if cand else np.zeros_like(gt))
        tiles.append(gt)
        row = np.concatenate(tiles, axis=1)
        if scale != 1:
            row = cv2.resize(row, (int(row.shape[1] * scale), int(row.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        frames.append(row)
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=100, loop=0)
    return True


def build_report(
    runs: Sequence[EvalRun],
    out: str | Path,
    config: dict | None = None,
    scribbles: str | Path | None = None,
    gif_videos: int = 2,
    gif_frames: int = 24,
    gif_scale: float = 0.5,
    training: Sequence[TrainingRun] = (),
) -> Path:
    """Write the report folder ``out``; returns the path of its index.html.

    ``training``: the training stages whose learning curves and loss summary the report shows."""
    if not runs:
        from svcnet.errors import InputError

        raise InputError("no evaluation given: pass --eval FOLDER (an `svcnet evaluate` output) at least once")
    out = Path(out)
    header = {
        "git_commit": git_commit(Path.cwd()),
        "config": config or {},
        "data_hashes": {
            d: data_hashes(r.summary["gt"])
            for d, r in {r.dataset: r for r in runs}.items()
            if Path(r.summary["gt"]).is_dir()
        },
        "flow_backend": {r.method: r.summary.get("flow") for r in runs},
        "saliency_backend": saliency_backend(config),
        "weights": {r.method: weights_used(r.summary["pred"]) for r in runs},
        "lightness": {r.method: output_lightness(r.method, weights_used(r.summary["pred"])) for r in runs},
        "lpips": {r.method: r.summary.get("lpips") for r in runs},
        "not_available": {f"{r.method}/{r.dataset}": r.summary.get("not_available", {}) for r in runs},
        "versions": runs[0].summary.get("versions", {}),
        "training_cpu": {t.name: t.cpu for t in training},
    }
    main_t = tables(runs, MAIN)
    extra_t = tables(runs, EXTRA)
    videos = list(dict.fromkeys(v["video"] for r in runs for v in r.per_video))
    remove_stale_temps(out)
    with atomic_path(out) as tmp:
        (tmp / "plots").mkdir(parents=True)
        (tmp / "media").mkdir()
        with open(tmp / "per_video.csv", "w", newline="") as fh:
            cols = ["method", "dataset", *runs[0].per_video[0].keys()] if runs[0].per_video else ["method"]
            writer = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
            writer.writeheader()
            for r in runs:
                for v in r.per_video:
                    writer.writerow({"method": r.method, "dataset": r.dataset, **v})
        images = []
        for m in BAR_METRICS:
            _plot_bars(runs, m, tmp / "plots" / f"per_video_{m}.png")
            images.append((f"plots/per_video_{m}.png", f"{m} per video"))
        for v in videos:
            _plot_frames(
                [r for r in runs if any(x["video"] == v for x in r.per_video)],
                v,
                tmp / "plots" / f"psnr_frames_{v}.png",
            )
            images.append((f"plots/psnr_frames_{v}.png", f"{v}: PSNR over frames"))
        for t in training:
            if t.curve is not None:
                shutil.copyfile(t.curve, tmp / "plots" / f"train_{t.name}.png")
                images.append((f"plots/train_{t.name}.png", f"{t.name}: training loss"))
        train_t = (TRAIN_HEADER, [t.row() for t in training])
        gifs = []
        for v in videos[:gif_videos]:
            if _side_by_side(
                runs, v, Path(scribbles) if scribbles else None, tmp / "media" / f"{v}.gif", gif_frames, gif_scale
            ):
                gifs.append((f"media/{v}.gif", f"{v}: gray | scribbles | {' | '.join(r.method for r in runs)} | GT"))
        (tmp / "report.json").write_text(json.dumps(header, indent=2, default=str) + "\n")
        (tmp / "results.md").write_text(_markdown(header, main_t, extra_t, images, gifs, train_t))
        (tmp / "index.html").write_text(_html(header, main_t, extra_t, images, gifs, train_t))
    return out / "index.html"


def _na_lines(header: dict) -> list[str]:
    lines = []
    for run, na in header["not_available"].items():
        for key, reason in na.items():
            lines.append(f"{run} {key}: n/a — {reason}")
    return lines


def _markdown(header: dict, main_t, extra_t, images, gifs, train_t) -> str:
    buf = io.StringIO()
    buf.write("# svcnet results\n\n")
    buf.write(f"- git commit: `{header['git_commit']}`\n- profile: `{header['config'].get('profile', '?')}`\n")
    buf.write(f"- data hashes (sha256/16 of each video's frames): `{json.dumps(header['data_hashes'])}`\n")
    buf.write(f"- flow backend: `{json.dumps(header['flow_backend'])}`\n")
    buf.write(f"- saliency backend: `{header['saliency_backend']}`\n")
    buf.write(f"- output lightness: `{json.dumps(header['lightness'])}`\n")
    buf.write(f"- weights: `{json.dumps(header['weights'], default=str)}`\n\n")
    buf.write(
        "Protocol: metrics/README.md (first frame excluded, frame-weighted means, warping error and CDC per "
        "video then averaged).\n\n## Main table\n\n"
    )
    buf.write(markdown_table(*main_t) + "\n\n## Lab (ab) and 256p variants\n\n" + markdown_table(*extra_t) + "\n\n")
    if train_t[1]:
        buf.write("## Training\n\n" + markdown_table(*train_t) + "\n\n")
    na = _na_lines(header)
    if na:
        buf.write("## Not available\n\n" + "\n".join(f"- {line}" for line in na) + "\n\n")
    buf.write("## Plots\n\n" + "\n".join(f"![{alt}]({src})" for src, alt in images + gifs) + "\n\n")
    buf.write("Per-video values: per_video.csv. Full provenance (config, versions): report.json.\n")
    return buf.getvalue()


def _html(header: dict, main_t, extra_t, images, gifs, train_t) -> str:
    na = "".join(f"<li>{html.escape(line)}</li>" for line in _na_lines(header))
    imgs = "".join(
        f'<figure><img src="{html.escape(s)}" alt="{html.escape(a)}"><figcaption>{html.escape(a)}</figcaption></figure>'
        for s, a in gifs + images
    )
    prov = html.escape(
        json.dumps(
            {
                k: header[k]
                for k in (
                    "git_commit",
                    "data_hashes",
                    "flow_backend",
                    "saliency_backend",
                    "weights",
                    "lightness",
                    "versions",
                    "training_cpu",
                )
            },
            indent=2,
            default=str,
        )
    )
    cfg = html.escape(json.dumps(header["config"], indent=2, default=str))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>svcnet results</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}
figure{{display:inline-block;margin:0.5em}}img{{max-width:100%}}pre{{background:#f4f4f4;padding:1em}}</style>
</head><body>
<h1>svcnet results</h1>
<p>git commit <code>{html.escape(header["git_commit"])}</code>, profile
<code>{html.escape(str(header["config"].get("profile", "?")))}</code>; output lightness
<code>{html.escape(json.dumps(header["lightness"]))}</code></p>
<h2>Main table</h2>
{html_table(*main_t)}
<h2>Lab (ab) and 256p variants</h2>
{html_table(*extra_t)}
{f"<h2>Training</h2>{html_table(*train_t)}" if train_t[1] else ""}
{f"<h2>Not available</h2><ul>{na}</ul>" if na else ""}
<h2>Videos and plots</h2>
{imgs}
<p><a href="per_video.csv">per_video.csv</a> · <a href="results.md">results.md</a> ·
<a href="report.json">report.json</a></p>
<h2>Provenance</h2><pre>{prov}</pre>
<details><summary>Configuration</summary><pre>{cfg}</pre></details>
</body></html>
"""
