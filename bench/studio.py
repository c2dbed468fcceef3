"""``svcnet studio`` timings: the keyframe preview latency and the time to colourise a 10-frame clip from the page
against the same run through the CLI.

* Preview: CPNet on one 448×256 keyframe with its scribble at the working size 256×448, on the CPU, median of 10
  calls of the library function (:meth:`svcnet.studio.preview.Previewer.colorize_keyframe`, after one warm-up) and,
  when the browser is there, median of 10 clicks on Preview in the page (click until the server has written the
  preview image).
* Colorize: 10 frames of the demo clip blackswan at 256×448. Page: click Colorize until the page shows the job done
  (the job runs ``svcnet colorize``'s library call in a child process). CLI: ``svcnet colorize`` in a subprocess on
  the project's keyframe scribbles, same weights and working size.
* One shot: a clip of 5 blackswan frames then 5 car-shadow frames (a cut at frame 5), shot 2 chosen in the page and
  colorized alone, against ``svcnet colorize --start-frame 5 --max-frames 5 --shots none``.

Weights: ``--weights DIR`` (official names), else CPNet and SSNet with random values (seed 0) in a temporary folder;
the flow is OpenCV DIS unless DIR holds PWC-Net. Speed does not depend on the weights' values.

Usage: ``python bench/studio.py [--weights DIR] [--threads 1] [--frames 10] [--skip-page]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEMO = REPO / "datasets" / "demo" / "davis" / "blackswan" / "frames"


def random_weights(root: Path) -> Path:
    import torch

    from svcnet.infer.models import load_cpnet, load_ssnet
    from svcnet.models.checkpoint import save_official

    torch.manual_seed(0)
    cpu = torch.device("cpu")
    save_official(load_cpnet(None, cpu), root / "cpnet_epoch1000_batchsize32.pth")
    save_official(load_ssnet(None, cpu), root / "ssnet_epoch2000_bs8.pth")
    return root


def scribble_for(frame):
    import numpy as np

    s = np.zeros_like(frame)
    s[140:160, 100:300] = (230, 25, 75)
    s[60:70, 200:260] = (30, 144, 255)
    return s


def preview_function(weights: Path, frame, scribble) -> list[float]:
    from svcnet.infer.models import WeightOptions
    from svcnet.studio.preview import Previewer

    previewer = Previewer(WeightOptions(weights_dir=weights), (256, 448))
    previewer.colorize_keyframe(frame, scribble)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        previewer.colorize_keyframe(frame, scribble)
        times.append(time.perf_counter() - start)
    return times


def wait_file_change(path: Path, before: int | None, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while (path.stat().st_mtime_ns if path.is_file() else None) == before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was not written")
        time.sleep(0.02)


@contextlib.contextmanager
def studio_page(clip: Path, project: Path, weights: Path, env: dict) -> Iterator:
    """A studio server on ``clip`` with ``project`` and a Chromium page on it, the editor ready."""
    sys.path.insert(0, str(REPO / "tests"))
    from playwright.sync_api import sync_playwright
    from test_studio import start_server, stop_server, wait_editor_ready

    os.environ.update(env)
    proc, url = start_server(project.parent, [str(clip), "--project", str(project), "--weights", str(weights)])
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(600_000)
            page.goto(url)
            wait_editor_ready(page)
            yield page
            browser.close()
    finally:
        stop_server(proc)


def page_runs(clip: Path, project: Path, weights: Path, env: dict) -> tuple[list[float], float]:
    """Median-of-10 preview clicks and one colorize run through the page."""
    with studio_page(clip, project, weights, env) as page:
        preview = project / "previews" / "keyframe.png"
        clicks = []
        for _ in range(11):
            before = preview.stat().st_mtime_ns if preview.is_file() else None
            start = time.perf_counter()
            page.locator("#preview").click()
            wait_file_change(preview, before)
            clicks.append(time.perf_counter() - start)
            page.wait_for_function("() => !document.querySelector('#out_img [data-testid=status-tracker]:not(.hide)')")
        start = time.perf_counter()
        page.locator("#colorize").click()
        page.wait_for_selector("#job_state[data-state=done]", timeout=1_800_000)
        colorize = time.perf_counter() - start
    return clicks[1:], colorize


def two_shot_clip(root: Path, n: int) -> Path:
    """``n`` frames of blackswan then ``n`` of car-shadow, named 00000…: a cut at frame ``n``."""
    root.mkdir(parents=True)
    other = DEMO.parents[1] / "car-shadow" / "frames"
    for i, p in enumerate(sorted(DEMO.iterdir())[:n] + sorted(other.iterdir())[:n]):
        shutil.copy(p, root / f"{i:05d}{p.suffix}")
    return root


def page_shot_run(clip: Path, project: Path, weights: Path, env: dict, target: str) -> float:
    """Colorize one shot from the page: choose it, click Colorize until the page shows the job done."""
    with studio_page(clip, project, weights, env) as page:
        from test_studio import colorize  # tests/ is on the path once the page is up

        start = time.perf_counter()
        state = colorize(page, project, target)
        took = time.perf_counter() - start
    if state != "done":
        raise RuntimeError(f"the shot job {state}: see {project / 'job' / 'job.log'}")
    return took


def cli_run(args: list[str], env: dict) -> float:
    """``svcnet colorize ARGS`` in a subprocess: seconds from process start to exit."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "svcnet", "colorize", *args, "--quiet"],
        check=True,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--skip-page", action="store_true")
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    from svcnet.data.frames import read_rgb, write_png

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    try:
        weights = args.weights or random_weights(tmp / "weights")
        clip = tmp / "blackswan"
        clip.mkdir(parents=True)
        for p in sorted(DEMO.iterdir())[: args.frames]:
            shutil.copy(p, clip / p.name)
        frame = read_rgb(sorted(clip.iterdir())[0])
        scribble = scribble_for(frame)
        times = preview_function(weights, frame, scribble)
        print(
            f"preview (library call, CPNet at 256x448, CPU, {args.threads} thread(s)): median of 10 "
            f"{statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})"
        )
        if args.skip_page:
            return
        project = tmp / "project"
        write_png(project / "scribbles" / f"{sorted(clip.iterdir())[0].stem}.png", scribble)
        env = {"OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(REPO)}
        clicks, page_colorize = page_runs(clip, project, weights, env)
        print(
            f"preview (page: click until the image is written): median of 10 {statistics.median(clicks):.3f} s "
            f"(min {min(clicks):.3f}, max {max(clicks):.3f})"
        )
        print(f"colorize {args.frames} frames at 256x448 from the page (click until done): {page_colorize:.1f} s")
        cli = cli_run(
            [str(clip), "-s", str(project / "scribbles"), "-o", str(tmp / "cli-out"), "-w", str(weights)], env
        )
        print(
            f"colorize {args.frames} frames at 256x448 through the CLI (process start to exit): {cli:.1f} s "
            f"(page / CLI = {page_colorize / cli:.2f})"
        )
        n = args.frames // 2
        two = two_shot_clip(tmp / "two", n)
        shot_project = tmp / "two.studio"
        key = sorted(two.iterdir())[n]
        write_png(shot_project / "scribbles" / f"{key.stem}.png", scribble_for(read_rgb(key)))
        page_shot = page_shot_run(two, shot_project, weights, env, f"shot 2: frames {n}–{2 * n - 1}")
        print(f"colorize shot 2 ({n} frames of a {2 * n}-frame clip) from the page: {page_shot:.1f} s")
        shot_args = ["--start-frame", str(n), "--max-frames", str(n), "--shots", "none"]
        scribbles = str(shot_project / "scribbles")
        cli = cli_run([str(two), "-s", scribbles, "-o", str(tmp / "cli-shot"), "-w", str(weights), *shot_args], env)
        print(f"the same shot through the CLI (--start-frame): {cli:.1f} s (page / CLI = {page_shot / cli:.2f})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
