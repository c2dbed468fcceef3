"""``svcnet report``: one results table per test set shaped like the paper's (PSNR / SSIM / LPIPS / warping error /
CDC), the protocol against the official one, provenance, per-video CSV, PNG plots, side-by-side GIFs and index.html.

Everything is written into one folder atomically. Values that could not be measured are shown as ``n/a``, with one
note per metric giving the reason from the evaluation (never a number).
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
from svcnet.evaluate.report_protocol import (
    PROTOCOL_HEADER,
    PROVENANCE_HEADER,
    REFERENCE_LINES,
    method_label,
    protocol_rows,
    provenance_rows,
    test_set_title,
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


def _test_set_means(run: EvalRun) -> dict[str, dict]:
    """A run's means per test set (a summary without ``test_sets`` counts as the one test set ``all``)."""
    return run.summary.get("test_sets") or {"all": run.summary["means"]}


def test_set_tables(runs: Sequence[EvalRun], columns: Sequence[tuple[str, str, int]]) -> list[dict]:
    """One table per (dataset, test set): ``{"title", "test_set", "header", "rows"}``; rows are the methods in the
    order given, labelled as in the paper."""
    datasets = list(dict.fromkeys(r.dataset for r in runs))
    out = []
    for dataset in datasets:
        of_dataset = [r for r in runs if r.dataset == dataset]
        names = list(dict.fromkeys(t for r in of_dataset for t in _test_set_means(r)))
        for name in names:
            title = test_set_title(name, dataset)
            if len(datasets) > 1 and name != "all":
                title = f"{dataset}: {title}"
            rows = []
            for run in of_dataset:
                means = _test_set_means(run).get(name)
                if means is None:
                    continue
                rows.append([method_label(run.method)] + [fmt(means.get(key), digits) for key, _, digits in columns])
            header = ["Method"] + [label for _, label, _ in columns]
            out.append({"title": title, "test_set": name, "header": header, "rows": rows})
    return out


test_set_tables.__test__ = False  # not a pytest test when a test module imports it


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def html_table(header: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def file_stem(video: str) -> str:
    """A file-name-safe form of a clip id (``DAVIS/bike`` → ``DAVIS__bike``)."""
    return video.replace("/", "__")


def bar_figure(runs: Sequence[EvalRun], metric: str, videos: Sequence[str], title: str):
    """Grouped bars of ``metric`` per video (a matplotlib Figure); the legend sits beside the axes, so it hides no
    bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width_in = min(24.0, max(5.0, 0.18 * len(videos) * max(1, len(runs)) + 1.5))
    fig, ax = plt.subplots(figsize=(width_in + 2.2, 3.4))
    width = 0.8 / max(1, len(runs))
    for i, run in enumerate(runs):
        vals = {v["video"]: _num(v[metric]) for v in run.per_video}
        ys = [vals.get(v, float("nan")) for v in videos]
        ys = [y if math.isfinite(y) else float("nan") for y in ys]
        ax.bar(np.arange(len(videos)) + i * width, ys, width, label=method_label(run.method))
    labels = [v.split("/", 1)[-1] for v in videos]
    ax.set_xticks(np.arange(len(videos)) + width * (len(runs) - 1) / 2, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(metric)
    ax.set_title(f"{title}: {metric} per video (∞ / n/a not drawn)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return fig


def _plot_bars(runs: Sequence[EvalRun], metric: str, path: Path, videos: Sequence[str], title: str) -> None:
    import matplotlib.pyplot as plt

    fig = bar_figure(runs, metric, videos, title)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_frames(runs: Sequence[EvalRun], video: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    for run in runs:
        rows = [r for r in run.per_frame if r["video"] == video]
        ys = [_num(r["psnr"]) for r in rows]
        ax.plot(range(len(rows)), [y if math.isfinite(y) else float("nan") for y in ys], label=method_label(run.method))
    ax.set_xlabel("evaluated frame index")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{video}: PSNR over frames")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
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
    frame_plots: int = 4,
) -> Path:
    """Write the report folder ``out``; returns the path of its index.html.

    ``training``: the training stages whose learning curves and loss summary the report shows; ``frame_plots``: how
    many videos of each test set get a PSNR-over-frames plot."""
    if not runs:
        from svcnet.errors import InputError

        raise InputError("no evaluation given: pass --eval FOLDER (an `svcnet evaluate` output) at least once")
    out = Path(out)
    config = config or {}
    header = _header(runs, config, training)
    sections = {
        "main": test_set_tables(runs, MAIN),
        "extra": test_set_tables(runs, EXTRA),
        "protocol": (PROTOCOL_HEADER, protocol_rows(runs, config, scribbles)),
        "provenance": (PROVENANCE_HEADER, provenance_rows(header, runs)),
        "not_available": not_available_notes(runs),
        "training": (TRAIN_HEADER, [t.row() for t in training]),
    }
    header["tables"] = sections["main"]
    videos = list(dict.fromkeys(v["video"] for r in runs for v in r.per_video))
    remove_stale_temps(out)
    with atomic_path(out) as tmp:
        (tmp / "plots").mkdir(parents=True)
        (tmp / "media").mkdir()
        _write_per_video(tmp / "per_video.csv", runs)
        images = _plots(tmp, runs, _video_groups(runs, videos), frame_plots)
        images += _training_curves(tmp, training)
        scribbles = Path(scribbles) if scribbles else None
        gifs = _gifs(tmp, runs, videos[:gif_videos], scribbles, gif_frames, gif_scale)
        (tmp / "report.json").write_text(json.dumps(header, indent=2, default=str) + "\n")
        (tmp / "results.md").write_text(_markdown(header, sections, images, gifs))
        (tmp / "index.html").write_text(_html(header, sections, images, gifs))
    return out / "index.html"


def _header(runs: Sequence[EvalRun], config: dict, training: Sequence[TrainingRun]) -> dict:
    """report.json's provenance: commit, config, data hashes, backends, weights and versions of every run."""
    return {
        "git_commit": git_commit(Path.cwd()),
        "config": config,
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
        "protocol": {r.method: r.summary.get("protocol") for r in runs},
        "resolution": {r.method: r.summary.get("resolution") for r in runs},
        "training_cpu": {t.name: t.cpu for t in training},
    }


def _write_per_video(path: Path, runs: Sequence[EvalRun]) -> None:
    """Every run's per-video rows in one CSV, with the method and dataset in front."""
    with open(path, "w", newline="") as fh:
        cols = ["method", "dataset", *runs[0].per_video[0].keys()] if runs[0].per_video else ["method"]
        writer = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        for r in runs:
            for v in r.per_video:
                writer.writerow({"method": r.method, "dataset": r.dataset, **v})


def _plots(tmp: Path, runs: Sequence[EvalRun], groups: dict, frame_plots: int) -> list[tuple[str, str]]:
    """Per-video bar plots of each test set and PSNR-over-frames plots of its first videos: (path, caption)."""
    images = []
    for name, (title, members) in groups.items():
        suffix = "" if len(groups) == 1 else f"_{file_stem(name)}"
        for m in BAR_METRICS:
            _plot_bars(runs, m, tmp / "plots" / f"per_video_{m}{suffix}.png", members, title)
            images.append((f"plots/per_video_{m}{suffix}.png", f"{title}: {m} per video"))
        for v in members[:frame_plots]:
            _plot_frames(
                [r for r in runs if any(x["video"] == v for x in r.per_video)],
                v,
                tmp / "plots" / f"psnr_frames_{file_stem(v)}.png",
            )
            images.append((f"plots/psnr_frames_{file_stem(v)}.png", f"{v}: PSNR over frames"))
    return images


def _training_curves(tmp: Path, training: Sequence[TrainingRun]) -> list[tuple[str, str]]:
    images = []
    for t in training:
        if t.curve is not None:
            shutil.copyfile(t.curve, tmp / "plots" / f"train_{t.name}.png")
            images.append((f"plots/train_{t.name}.png", f"{t.name}: training loss"))
    return images


def _gifs(
    tmp: Path, runs: Sequence[EvalRun], videos: Sequence[str], scribbles: Path | None, frames: int, scale: float
) -> list[tuple[str, str]]:
    """Side-by-side animations (gray | scribbles | each method | ground truth) of ``videos``: (path, caption)."""
    gifs = []
    for v in videos:
        gif = f"media/{file_stem(v)}.gif"
        if _side_by_side(runs, v, scribbles, tmp / gif, frames, scale):
            names = " | ".join(method_label(r.method) for r in runs)
            gifs.append((gif, f"{v}: gray | scribbles | {names} | GT"))
    return gifs


def _video_groups(runs: Sequence[EvalRun], videos: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
    """Videos grouped by test set (``{name: (title, videos)}``) for the per-video plots."""
    from svcnet.data.testsets import split_test_sets

    dataset = runs[0].dataset
    return {name: (test_set_title(name, dataset), ids) for name, ids in split_test_sets(videos).items()}


def not_available_notes(runs: Sequence[EvalRun]) -> list[str]:
    """One note per unavailable metric: its reason, and which methods it concerns when not all of them."""
    by_key: dict[str, dict[str, list[str]]] = {}
    for r in runs:
        for key, reason in r.summary.get("not_available", {}).items():
            by_key.setdefault(key, {}).setdefault(reason, []).append(method_label(r.method))
    notes = []
    names = {k: label.split(" ")[0] for k, label, _ in MAIN + EXTRA}
    for key, reasons in by_key.items():
        for reason, methods in reasons.items():
            scope = "all methods" if len(methods) == len(runs) else ", ".join(methods)
            notes.append(f"{names.get(key, key)} n/a ({scope}): {reason}")
    return notes


def _markdown(header: dict, sections: dict, images, gifs) -> str:
    buf = io.StringIO()
    buf.write("# svcnet results\n\n")
    buf.write(f"Profile `{header['config'].get('profile', '?')}`, git commit `{header['git_commit']}`.\n\n")
    for table in sections["main"]:
        buf.write(f"## {table['title']}\n\n" + markdown_table(table["header"], table["rows"]) + "\n\n")
        if table["test_set"] in REFERENCE_LINES:
            buf.write(REFERENCE_LINES[table["test_set"]] + "\n\n")
    if sections["not_available"]:
        buf.write("\n".join(f"- {line}" for line in sections["not_available"]) + "\n\n")
    buf.write("## Protocol\n\n" + markdown_table(*sections["protocol"]) + "\n\n")
    buf.write("Definitions: docs/evaluation.md and metrics/README.md.\n\n")
    for table in sections["extra"]:
        buf.write(f"## {table['title']}: Lab (ab) and 256p variants\n\n")
        buf.write(markdown_table(table["header"], table["rows"]) + "\n\n")
    if sections["training"][1]:
        buf.write("## Training\n\n" + markdown_table(*sections["training"]) + "\n\n")
    buf.write("## Provenance\n\n" + markdown_table(*sections["provenance"]) + "\n\n")
    buf.write("## Plots\n\n" + "\n".join(f"![{alt}]({src})" for src, alt in images + gifs) + "\n\n")
    buf.write("Per-video values: per_video.csv. Everything in full (config, hashes, versions): report.json.\n")
    return buf.getvalue()


def _html(header: dict, sections: dict, images, gifs) -> str:
    results = ""
    for table in sections["main"]:
        results += f"<h2>{html.escape(table['title'])}</h2>" + html_table(table["header"], table["rows"])
        if table["test_set"] in REFERENCE_LINES:
            results += f'<p class="ref">{html.escape(REFERENCE_LINES[table["test_set"]])}</p>'
    na = "".join(f"<li>{html.escape(line)}</li>" for line in sections["not_available"])
    extra = "".join(
        f"<h3>{html.escape(t['title'])}: Lab (ab) and 256p variants</h3>" + html_table(t["header"], t["rows"])
        for t in sections["extra"]
    )
    imgs = "".join(
        f'<figure><img src="{html.escape(s)}" alt="{html.escape(a)}"><figcaption>{html.escape(a)}</figcaption></figure>'
        for s, a in gifs + images
    )
    train = sections["training"]
    cfg = html.escape(json.dumps(header["config"], indent=2, default=str))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>svcnet results</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:4px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
table.text td,table.text th{{text-align:left;vertical-align:top}}p.ref{{color:#444;font-size:90%;max-width:60em}}
figure{{display:inline-block;margin:0.5em}}img{{max-width:100%}}pre{{background:#f4f4f4;padding:1em}}</style>
</head><body>
<h1>svcnet results</h1>
<p>Profile <code>{html.escape(str(header["config"].get("profile", "?")))}</code>, git commit
<code>{html.escape(header["git_commit"])}</code>.</p>
{results}
{f"<ul>{na}</ul>" if na else ""}
<h2>Protocol</h2>
{html_table(*sections["protocol"], css="text")}
<p>Definitions: docs/evaluation.md and metrics/README.md.</p>
<h2>Variants</h2>
{extra}
{f"<h2>Training</h2>{html_table(*train)}" if train[1] else ""}
<h2>Videos and plots</h2>
{imgs}
<h2>Provenance</h2>
{html_table(*sections["provenance"], css="text")}
<p><a href="per_video.csv">per_video.csv</a> · <a href="results.md">results.md</a> ·
<a href="report.json">report.json</a></p>
<details><summary>Configuration</summary><pre>{cfg}</pre></details>
</body></html>
"""
