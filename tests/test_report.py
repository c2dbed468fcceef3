"""``svcnet report`` from two small evaluations: tables, n/a reasons, plots, GIF, index.html (+ headless Chromium)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from svcnet.cli import main
from svcnet.data.frames import list_frames, read_rgb, write_png
from svcnet.evaluate.levin import gray_frame

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"


CLIPS = {"dog": "DAVIS", "car-shadow": "videvo"}  # clip -> test set (the tags of the DAVIS-Videvo release)
METHODS = ("gray", "official_svcnet")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Two test sets (DAVIS/dog, videvo/car-shadow; 5 frames at 224x128); gray and a stand-in for the official
    SVCNet (the ground truth + 6, with the metadata.json `svcnet colorize` writes); GCS scribbles; two trainings."""
    import json

    import torch

    from svcnet.scribbles.flow import dis_estimator
    from svcnet.scribbles.generate import EvalScribbleSettings
    from svcnet.scribbles.run import run_scribbles

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("report")
    for clip, tag in CLIPS.items():
        for src in list_frames(DEMO / clip / "frames")[:5]:
            img = cv2.resize(read_rgb(src), (224, 128), interpolation=cv2.INTER_AREA)
            write_png(root / "gt" / tag / clip / "frames" / f"{src.stem}.png", img)
            write_png(root / "gray" / tag / clip / "frames" / f"{src.stem}.png", gray_frame(img))
            noisy = np.clip(img.astype(int) + 6, 0, 255).astype(np.uint8)
            write_png(root / "official_svcnet" / tag / clip / "frames" / f"{src.stem}.png", noisy)
        meta = {
            "weights": {"cpnet": {"path": "/w/cpnet_epoch1000_batchsize32.pth", "sha256": "ab" * 32}},
            "flow": {"backend": "pwcnet"},
            "edge_policy": "official",
            "lightness": "official",
        }
        (root / "official_svcnet" / tag / clip / "metadata.json").write_text(json.dumps(meta))
    run_scribbles(root / "gt", root / "scribbles", EvalScribbleSettings(protocol="gcs"), dis_estimator())
    for m in METHODS:
        args = ["evaluate", "-q", "--pred", str(root / m), "--gt", str(root / "gt"), "--out", str(root / f"e_{m}")]
        assert main([*args, "--method", m, "--dataset", "demo", "--lpips-weights", str(root / "none.pth")]) == 2
        assert main([*args, "--method", m, "--dataset", "demo"]) == 0
    write_training_log(root / "train" / "cpnet" / "cpnet2", [0.5, 0.4] + [0.3] * 16 + [0.2, 0.1], curve=True)
    write_training_log(root / "train" / "ssnet", [0.8, 0.6, 0.4])
    args = ["report", "--eval", str(root / "e_gray"), "--eval", str(root / "e_official_svcnet")]
    args += ["--out", str(root / "rep"), "--scribbles", str(root / "scribbles" / "gt")]
    args += ["--training", str(root / "train" / "cpnet"), "--training", str(root / "train" / "ssnet")]
    assert main(args) == 0
    return root / "rep"


def write_training_log(folder: Path, losses: list[float], curve: bool = False) -> None:
    """A `svcnet train` log.csv (2 it/s) and, with ``curve``, its loss.png."""
    folder.mkdir(parents=True)
    rows = "".join(f"{i + 1},{v},{v / 2},2.0\n" for i, v in enumerate(losses))
    (folder / "log.csv").write_text("iteration,loss,loss_ab,it_per_s\n" + rows)
    if curve:
        from svcnet.train.logs import plot_loss_curve

        plot_loss_curve(folder / "log.csv", folder / "loss.png")


def test_training_table_and_learning_curves(report, tmp_path):
    md = (report / "results.md").read_text()
    # first / last 10 % of 20 logged rows = 2 rows each: (0.5+0.4)/2 and (0.2+0.1)/2; 3 rows: 1 row each
    assert "| cpnet2 | 20 | 0.4500 | 0.1500 | -66.7 % | 2 |" in md
    assert "| ssnet | 3 | 0.8000 | 0.4000 | -50.0 % | 2 |" in md
    assert (report / "plots" / "train_cpnet2.png").stat().st_size > 1000  # copied learning curve
    assert not (report / "plots" / "train_ssnet.png").exists()  # that run has no loss.png
    assert 'src="plots/train_cpnet2.png"' in (report / "index.html").read_text()
    (tmp_path / "empty").mkdir()
    args = ["report", "--eval", str(report.parent / "e_gray"), "--out", str(tmp_path / "rep")]
    assert main([*args, "--training", str(tmp_path / "empty")]) == 2
    assert not (tmp_path / "rep").exists()


def section(md: str, title: str) -> str:
    """The text of a results.md section, up to the next heading of level 2."""
    start = md.index(f"## {title}\n")
    end = md.find("\n## ", start + 1)
    return md[start : end if end >= 0 else None]


def test_one_table_per_test_set_shaped_like_the_paper(report):
    md = (report / "results.md").read_text()
    for title, tag in (("DAVIS", "DAVIS"), ("Videvo", "videvo")):
        text = section(md, title)
        assert "| Method | PSNR ↑ | SSIM ↑ | LPIPS ↓ | Warp err. ↓ | CDC ↓ |" in text
        gray_row = next(line for line in text.splitlines() if line.startswith("| Grayscale input |"))
        assert gray_row.split(" | ")[3] == "n/a"  # LPIPS without a backbone
        official = next(line for line in text.splitlines() if line.startswith("| SVCNet (official weights) |"))
        summary = json.loads((report.parent / "e_official_svcnet" / "summary.json").read_text())
        assert official.split(" | ")[1] == f"{summary['test_sets'][tag]['psnr']:.2f}"
    assert "PSNR 25.96, SSIM 0.9573" in section(md, "DAVIS") and "SSNet/validation.py" in section(md, "DAVIS")
    assert "25.96" not in section(md, "Videvo")
    assert md.count("LPIPS n/a (all methods): LPIPS backbone alexnet-owt-7be5be79.pth not found") == 1
    assert "## DAVIS: Lab (ab) and 256p variants" in md and "## Videvo: Lab (ab) and 256p variants" in md


def test_protocol_and_provenance_tables(report):
    md = (report / "results.md").read_text()
    protocol = section(md, "Protocol")
    assert "| Scribbles | gcs (40 points, flow dis-medium) | GCS: 40 single pixels" in protocol
    assert "flow dis-medium instead of PWC-Net" in protocol  # the recorded difference
    assert "| Edge frames (SVCNet) | official | official (first/last 3 frames from CPNet) |  |" in protocol
    assert "| Output lightness (networks) | official |" in protocol
    assert "| Warping error | reference | reference (Lai et al., evaluate_WarpError.py) |" in protocol
    assert "| First frame | excluded | excluded |  |" in protocol
    assert "| Ground-truth resolution | as given (224x128) | original (spec §5.1) |" in protocol
    provenance = section(md, "Provenance")
    assert "| git commit |" in provenance and "| ground truth demo | 2 videos, sha256/16" in provenance
    assert "| weights SVCNet (official weights) | cpnet: cpnet_epoch1000_batchsize32.pth (sha256 abababababab)" in (
        provenance
    )
    assert "{" not in provenance  # no raw JSON
    header = json.loads((report / "report.json").read_text())
    assert header["lightness"]["official_svcnet"] == "official (BT.601 luma as Lab L)"  # read from <tag>/<clip>/
    with open(report / "per_video.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["method"], r["video"]) for r in rows} == {
        (m, f"{tag}/{clip}") for m in METHODS for clip, tag in CLIPS.items()
    }


def test_plots_per_test_set_and_gifs(report):
    for name in ("per_video_psnr_DAVIS.png", "per_video_warp_error_videvo.png", "psnr_frames_DAVIS__dog.png"):
        assert (report / "plots" / name).stat().st_size > 1000
    import imageio.v3 as iio

    gif = iio.imread(report / "media" / "videvo__car-shadow.gif")
    assert gif.shape[0] == 5 and gif.shape[2] == 5 * 224 // 2  # gray | scribbles | 2 methods | GT at half size
    html = (report / "index.html").read_text()
    # 2 results tables, protocol, 2 variants, training, provenance
    assert html.count("<table") == 7 and 'src="media/videvo__car-shadow.gif"' in html


def test_bar_legend_hides_no_bar(report):
    from svcnet.evaluate.report import bar_figure
    from svcnet.evaluate.report_data import load_run

    runs = [load_run(report.parent / f"e_{m}") for m in METHODS]
    fig = bar_figure(runs, "psnr", ["DAVIS/dog", "videvo/car-shadow"], "demo")
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    bars = [p.get_window_extent() for p in ax.patches]
    assert len(bars) == 4 and not any(legend.overlaps(b) for b in bars)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Grayscale input", "SVCNet (official weights)"]


@pytest.mark.browser
def test_index_renders_in_headless_chromium(report, tmp_path):
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if exe is None:
        pytest.skip("chromium is not installed")
    url = (report / "index.html").resolve().as_uri()
    dom = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count("<table") == 7 and "PSNR" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}", "--window-size=1200,2000", url],
        capture_output=True,
        timeout=120,
    )
    img = read_rgb(shot)
    assert img.std() > 10  # tables and images drew something


@pytest.mark.browser
def test_every_image_decodes_and_tables_fill_in_headless_chromium(report):
    """A copy of index.html beside it (same relative links) records, after load, each image's decoded width and the
    table rows; Chromium runs it and dumps the DOM, so a missing or undecodable PNG/GIF fails here."""
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if exe is None:
        pytest.skip("chromium is not installed")
    probe = report / "_probe.html"
    script = (
        "<script>window.addEventListener('load', () => { const out = document.createElement('pre');"
        "out.id = 'probe'; out.textContent = JSON.stringify({images: [...document.images].map("
        "i => [i.getAttribute('src'), i.complete ? i.naturalWidth : -1]), rows: [...document.querySelectorAll("
        "'table')].map(t => t.querySelectorAll('tbody tr').length)}); document.body.appendChild(out); });"
        "</script>"
    )
    probe.write_text((report / "index.html").read_text().replace("</body>", script + "</body>"))
    try:
        dom = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--allow-file-access-from-files",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probe.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    finally:
        probe.unlink()
    import html as html_lib
    import json

    start = dom.index('<pre id="probe">') + len('<pre id="probe">')
    found = json.loads(html_lib.unescape(dom[start : dom.index("</pre>", start)]))
    sources = [s for s, _ in found["images"]]
    assert "media/videvo__car-shadow.gif" in sources and "plots/per_video_psnr_DAVIS.png" in sources
    assert all(width > 0 for _, width in found["images"]), found["images"]
    assert "plots/train_cpnet2.png" in sources
    # two methods in each results and variants table, 8 protocol rows, two training stages, provenance rows
    assert found["rows"][:6] == [2, 2, 8, 2, 2, 2] and found["rows"][6] >= 6


def test_header_records_the_saliency_setting_and_what_each_clip_used(report, tmp_path):
    import json

    from svcnet.evaluate.report_data import saliency_backend

    assert "| saliency (training) | method auto, fallback" in (report / "results.md").read_text()  # config.yaml
    config = {"profile": "demo", "saliency": {"method": "auto", "fallback": "spectral_residual"}}
    for clip, method in (("dog", "masks"), ("bmx", "spectral_residual")):
        folder = tmp_path / "data" / "demo" / "saliency" / "train" / clip
        folder.mkdir(parents=True)
        (folder / "metadata.json").write_text(json.dumps({"clip": clip, "method": method}))
    assert saliency_backend(config, tmp_path) == (
        "method auto, fallback spectral_residual; used: bmx=spectral_residual, dog=masks"
    )
    assert saliency_backend({"profile": "demo"}, tmp_path) == "not configured"


def test_output_lightness_names_what_each_method_wrote():
    from svcnet.evaluate.report_data import output_lightness

    assert output_lightness("svcnet", {"lightness": "input"}) == "input (each frame's own Lab L)"
    assert output_lightness("cpnet", {"lightness": "official"}) == "official (BT.601 luma as Lab L)"
    assert output_lightness("levin", {}) == "YIQ luma of the input (kept)"
    assert output_lightness("cpnet", {}) == "not recorded"
