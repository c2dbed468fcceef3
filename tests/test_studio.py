"""``svcnet studio`` in a real browser: Debian's Chromium driven by Playwright, the server in a subprocess on a free
port of 127.0.0.1 (started before the browser). One page goes through the steps in order: paint a stroke, preview,
carry, colourise (with a page reload while it runs), download, bad inputs, then a video with sound opened in the page
end to end, and a two-shot clip whose job first fails on a corrupt checkpoint, then colourises shot 2 alone; a second
server without weights checks the missing-weights message. Waits are on what the page shows (Playwright's waiting
expectations, the job state's start time), with generous limits for the colorize jobs on a busy machine.
Screenshots of each step go to ``test-artifacts/studio/`` (their paths are printed)."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from svcnet.data.frames import read_rgb, write_png

pytest.importorskip("gradio", reason="the studio extra is not installed (pip install -e '.[studio]')")
pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[studio]')")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.isfile(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "datasets" / "demo" / "davis" / "blackswan" / "frames"
ARTIFACTS = ROOT / "test-artifacts" / "studio"
SIZE = (64, 112)  # working size of the test runs (H, W): small, the clip is colourised on 2 shared cores
STROKE_RGB = (230, 25, 75)  # the palette's first colour, #e6194b
STROKE = ((100, 150), (300, 150))  # image pixels (x, y) of the stroke's ends
TIMEOUT = 60_000
COLORIZE_TIMEOUT = 300_000  # a colorize job on 2 shared, possibly busy cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path, args: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    log = open(tmp / f"server-{port}.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, "-m", "svcnet", "studio", *args, "--port", str(port)], stdout=log, stderr=log, env=env
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"studio server exited: {(tmp / f'server-{port}.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("studio server did not answer within 90 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 10 frames of the demo clip blackswan (448x256)."""
    root = tmp_path_factory.mktemp("studio") / "blackswan"
    root.mkdir()
    for p in sorted(DEMO.iterdir())[:10]:
        shutil.copy(p, root / p.name)
    return root


@pytest.fixture(scope="module")
def weights(random_weights_dir, clip) -> Path:
    """Generated CPNet and SSNet checkpoints under the official names; no PWC-Net, so the flow is OpenCV DIS."""
    root = clip.parent / "weights"
    root.mkdir()
    for name in ("cpnet_epoch1000_batchsize32.pth", "ssnet_epoch2000_bs8.pth"):
        (root / name).symlink_to(random_weights_dir / name)
    return root


@pytest.fixture(scope="module")
def server(clip, weights):
    tmp = clip.parent
    project = tmp / "project"
    size = f"{SIZE[0]}x{SIZE[1]}"
    proc, url = start_server(tmp, [str(clip), "--project", str(project), "--weights", str(weights), "--size", size])
    yield url, project
    stop_server(proc)


@pytest.fixture
def painted(server) -> Path:
    """The keyframe scribble of frame 00000: the one the paint test saved, or, when that test has not run (this test
    alone), the same stroke written in the official format."""
    _, project = server
    path = project / "scribbles" / "00000.png"
    if not path.is_file():
        scribble = np.zeros((256, 448, 3), np.uint8)  # the frames of `clip`
        (x0, y), (x1, _) = STROKE
        scribble[y - 2 : y + 3, x0 : x1 + 1] = STROKE_RGB
        write_png(path, scribble)
    return path


@pytest.fixture(scope="module")
def browser(server):
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(server[0])
    wait_editor_ready(pg)
    yield pg
    outside = [u for u in requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert outside == [], f"the page contacted other hosts: {outside[:5]}"
    context.close()


def shot(pg, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def wait_idle(pg, elem: str) -> None:
    pg.wait_for_function(
        "(sel) => { const t = document.querySelector(sel + ' [data-testid=status-tracker]');"
        " return !t || t.classList.contains('hide'); }",
        arg=elem,
    )


def wait_editor_ready(pg) -> None:
    pg.locator("#editor .pixi-target canvas").first.wait_for()
    expect(pg.locator("#editor .zoom-number").first).to_contain_text("%")
    wait_idle(pg, "#editor")
    pg.wait_for_timeout(1000)


def status_text(pg) -> str:
    return pg.locator("#status textarea").input_value()


def wait_status(pg, text: str) -> str:
    """The status once it holds ``text``; the toast that comes with a ⚠ message is dismissed (it would cover the
    buttons at the top for 10 s)."""
    pg.wait_for_function(
        "(t) => (document.querySelector('#status textarea')?.value || '').includes(t)", arg=text, timeout=TIMEOUT
    )
    status = status_text(pg)
    if status.startswith("⚠"):
        pg.locator("[data-testid=toast-close]").first.wait_for(state="attached")
        pg.evaluate("document.querySelectorAll('[data-testid=toast-close]').forEach((b) => b.click())")
    return status


def image_to_screen(pg, u: float, v: float, size=(256, 448)) -> tuple[float, float]:
    """Screen position of image pixel (u, v) on the editor's canvas (the frame is fitted inside a 30 px margin)."""
    canvas = pg.locator("#editor .pixi-target canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    h, w = size
    z = min((box["width"] - 60) / w, (box["height"] - 60) / h)
    x = box["x"] + (box["width"] - w * z) / 2 + (u + 0.5) * z
    y = box["y"] + (box["height"] - h * z) / 2 + (v + 0.5) * z
    return x, y


def pick_palette_colour(pg, hex_colour: str) -> None:
    wait_idle(pg, "#editor")
    pg.locator("#editor").get_by_role("button", name="Color", exact=True).click()
    pg.locator("#editor button.colorpicker").first.click()
    field = pg.locator("#editor .input-wrap input[type=text]").first
    field.fill(hex_colour)
    field.press("Enter")
    pg.keyboard.press("Escape")
    pg.locator("#project").click()


def stroke(pg, start: tuple[int, int], end: tuple[int, int], size=(256, 448)) -> None:
    """Drag the mouse from image pixel ``start`` to ``end`` (x, y) with the active tool (frames of ``size``)."""
    (x0, y0), (x1, y1) = image_to_screen(pg, *start, size=size), image_to_screen(pg, *end, size=size)
    pg.mouse.move(x0, y0)
    pg.mouse.down()
    pg.mouse.move(x1, y1, steps=5)
    pg.mouse.up()


def save(pg, project: Path, strokes=None, frame: str = "00000") -> np.ndarray:
    """Draw ``strokes`` (a function of the page), press Save and read the keyframe's scribble file once the server has
    rewritten it (the editor is then redrawn with the merged scribble in its background). Right after the editor is
    redrawn, the canvas may drop the first strokes on a loaded machine: when Save finds nothing painted, the strokes
    are drawn again, up to twice (drawing them twice gives the same pixels)."""
    path = project / "scribbles" / f"{frame}.png"
    for attempt in range(3):
        if strokes is not None:
            strokes(pg)
        before, before_text = (path.stat().st_mtime_ns if path.is_file() else None), status_text(pg)
        pg.locator("#save").click()
        deadline = time.monotonic() + TIMEOUT / 1000
        while (path.stat().st_mtime_ns if path.is_file() else None) == before:
            text = status_text(pg)
            if "nothing new painted" in text and text != before_text and attempt < 2:  # this Save's answer
                break
            assert time.monotonic() < deadline, f"Save did not write {path}; status: {status_text(pg)}"
            time.sleep(0.1)
        else:
            break
        pg.wait_for_timeout(2000)
    wait_editor_ready(pg)
    return read_rgb(path)


def tool(pg, name: str) -> None:
    wait_idle(pg, "#editor")  # while the editor is busy its status overlay takes the clicks
    pg.locator("#editor").get_by_role("button", name=name, exact=True).click()


def test_paint_stroke_saves_official_scribble(page, server):
    _, project = server
    pick_palette_colour(page, "#e6194b")
    scribble = save(page, project, lambda pg: stroke(pg, *STROKE))
    shot(page, "01-painted")
    assert scribble.shape == (256, 448, 3)
    painted = scribble.any(axis=2)
    ys, xs = np.nonzero(painted)
    assert set(map(tuple, scribble[painted])) == {STROKE_RGB}
    # the stroke covers the line between its ends, and nothing far from it
    assert painted[150, 110:290].all()
    assert xs.min() >= 100 - 10 and xs.max() <= 300 + 10 and ys.min() >= 150 - 10 and ys.max() <= 150 + 10

    # a black stroke removes saved scribble
    pick_palette_colour(page, "#000000")
    removed = save(page, project, lambda pg: stroke(pg, (260, 150), (320, 150)))
    shot(page, "01b-removed")
    assert not removed[150, 270:310].any() and removed[150, 110:240].all(axis=1).all()

    # the eraser removes part of an unsaved stroke; an undone stroke is not saved
    pick_palette_colour(page, "#e6194b")

    def edit(pg):
        stroke(pg, (100, 220), (300, 220))
        tool(pg, "Erase")
        stroke(pg, (200, 220), (320, 220))
        tool(pg, "Brush")
        stroke(pg, (100, 100), (300, 100))
        tool(pg, "Undo")

    edited = save(page, project, edit)
    assert edited[220, 110:180].all(axis=1).all() and not edited[210:231, 215:310].any()
    assert not edited[80:121].any() and np.array_equal(edited[:200], removed[:200])


def test_preview_moves_colour_toward_the_stroke(page, server, weights, painted):
    from svcnet.infer.models import WeightOptions
    from svcnet.studio.preview import Previewer

    _, project = server
    page.locator("#preview").click()
    wait_status(page, "preview of frame 00000")
    page.locator("#out_img img").first.wait_for()
    shot(page, "02-preview")
    shown = read_rgb(project / "previews" / "keyframe.png")
    frame = read_rgb(sorted(DEMO.iterdir())[0])
    scribble = read_rgb(project / "scribbles" / "00000.png")
    previewer = Previewer(WeightOptions(weights_dir=weights), SIZE)
    expected = previewer.colorize_keyframe(frame, scribble)
    without = previewer.colorize_keyframe(frame, np.zeros_like(frame))
    assert shown.shape == frame.shape and np.abs(shown.astype(int) - expected).max() <= 1

    def ab_distance(img):
        lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(float)[140:161, 100:301, 1:]
        target = cv2.cvtColor(np.uint8([[STROKE_RGB]]), cv2.COLOR_RGB2LAB).astype(float)[0, 0, 1:]
        return np.abs(lab - target).mean()

    assert ab_distance(shown) < ab_distance(without)


def test_carry_shows_the_scribble_on_another_frame(page, server, painted):
    _, project = server
    field = page.locator("#carry_to input[type=number]")
    field.fill("3")
    field.press("Enter")
    page.locator("#carry").click()
    wait_status(page, "carried to frame 3")
    page.locator("#carry_img img").first.wait_for()
    shot(page, "03-carried")
    carried = read_rgb(project / "previews" / "carried_scribble.png")
    painted = carried.any(axis=2)
    assert painted.sum() > 100
    colours, counts = np.unique(carried[painted], axis=0, return_counts=True)
    assert tuple(colours[counts.argmax()]) == STROKE_RGB


def test_colorize_survives_reload_plays_and_downloads(page, server, painted, tmp_path):
    import av

    _, project = server
    page.locator("#colorize").click()
    wait_status(page, "colorize job started")
    page.locator("#colorize").click()  # a second job while one runs: refused in the page
    wait_status(page, "already running")
    page.reload()
    wait_editor_ready(page)
    page.locator("#job_bar").wait_for()  # the job's progress is shown again after the reload
    shot(page, "04-colorizing")
    page.wait_for_selector("#job_state[data-state=done]", timeout=COLORIZE_TIMEOUT)
    page.wait_for_function(
        "() => { const v = document.querySelector('#result_video video'); return v && v.readyState >= 2; }"
    )
    assert page.evaluate("document.querySelector('#result_video video').videoWidth") == 448
    shot(page, "05-colorized")
    names = download_results(page, tmp_path)
    with av.open(str(names[".mp4"])) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10
    with zipfile.ZipFile(names[".zip"]) as zf:
        pngs = sorted(n for n in zf.namelist() if n.endswith(".png"))
        assert len(pngs) == 10
        first = cv2.imdecode(np.frombuffer(zf.read(pngs[0]), np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (256, 448, 3)
    meta = json.loads((project / "job" / "result" / "metadata.json").read_text())
    saved = sorted(int(p.stem) for p in (project / "scribbles").glob("*.png"))
    assert meta["keyframes"] == [i for i, name in enumerate(meta["frames"]) if int(name) in saved] != []


def test_pick_colour_from_reference_image(page, server, tmp_path):
    _, project = server
    ref = np.zeros((40, 60, 3), np.uint8)
    ref[:, :30] = (20, 160, 90)
    ref[:, 30:] = (250, 200, 10)
    cv2.imwrite(str(tmp_path / "ref.png"), cv2.cvtColor(ref, cv2.COLOR_RGB2BGR))
    page.locator("#reference input[type=file]").set_input_files(str(tmp_path / "ref.png"))
    img = page.locator("#reference img").first
    img.wait_for()
    wait_idle(page, "#reference")
    box = img.bounding_box()
    img.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.5})
    wait_status(page, "picked #14a05a")  # (it saves the scribble first)
    wait_editor_ready(page)
    scribble = save(page, project, lambda pg: stroke(pg, (100, 60), (300, 60)))
    assert tuple(scribble[60, 200]) == (20, 160, 90)
    assert set(map(tuple, scribble[scribble.any(axis=2)])) == {(20, 160, 90), STROKE_RGB}


def test_bad_inputs_are_messages_in_the_page(page, server, tmp_path):
    url, project = server
    (tmp_path / "notes.txt").write_text("not a video\n")
    (tmp_path / "broken.mp4").write_bytes(b"\0" * 1000)
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(sorted(DEMO.iterdir())[0], one / "00000.jpg")
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(sorted(DEMO.iterdir())[0], bad / "00000.jpg")
    (bad / "00001.png").write_bytes(b"not a png")
    cases = [
        (tmp_path / "notes.txt", "neither a folder of frames nor a video file"),
        (tmp_path / "broken.mp4", "broken.mp4"),
        (one, "has 1 frame"),
        (bad, "00001.png"),
        (tmp_path / "missing", "not found"),
    ]
    for i, (path, message) in enumerate(cases):
        page.locator("#input_path textarea, #input_path input").first.fill(str(path))
        page.locator("#project_path textarea, #project_path input").first.fill(str(tmp_path / f"p{i}"))
        page.locator("#open").click()
        text = wait_status(page, message)
        assert text.startswith("⚠"), text
    shot(page, "06-bad-input")
    # the server keeps serving, with the earlier project still open
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
    assert str(project) in page.locator("#project").inner_text()


def test_missing_weights_is_a_message(browser, clip, tmp_path):
    proc, url = start_server(tmp_path, [str(clip), "--project", str(tmp_path / "p"), "--weights", str(tmp_path)])
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT)
        pg.goto(url)
        wait_editor_ready(pg)
        pg.locator("#preview").click()
        text = wait_status(pg, "missing weights")
        assert text.startswith("⚠") and "cpnet_epoch1000_batchsize32.pth" in text
        pg.locator("#colorize").click()
        wait_status(pg, "missing")
        shot(pg, "07-missing-weights")
        context.close()
    finally:
        stop_server(proc)


def open_in_page(pg, path: Path, project: Path) -> None:
    pg.locator("#input_path textarea, #input_path input").first.fill(str(path))
    pg.locator("#project_path textarea, #project_path input").first.fill(str(project))
    pg.locator("#open").click()
    wait_status(pg, f"Opened {path}")
    wait_editor_ready(pg)


def colorize(pg, project: Path, target: str) -> str:
    """Choose what to colorize, press Colorize and wait until the page shows this job ended; its state (done or
    failed). The job is told from an earlier one by its start time (``job.json``, shown in the page)."""
    state_file = project / "job" / "job.json"
    earlier = json.loads(state_file.read_text())["started"] if state_file.is_file() else None
    pg.locator("#target input").first.click()
    pg.get_by_role("option", name=target, exact=True).click()
    expect(pg.locator("#target input").first).to_have_value(target)
    pg.locator("#colorize").click()
    deadline = time.monotonic() + TIMEOUT / 1000
    while (started := json.loads(state_file.read_text())["started"] if state_file.is_file() else None) == earlier:
        assert time.monotonic() < deadline, f"no colorize job started; status: {status_text(pg)}"
        time.sleep(0.1)
    ended = f"#job_state[data-started='{started:.3f}']:is([data-state=done], [data-state=failed])"
    return pg.wait_for_selector(ended, timeout=COLORIZE_TIMEOUT).get_attribute("data-state")


def download_results(pg, folder: Path) -> dict[str, Path]:
    """The mp4 and the zip offered once the job is done, downloaded through the page."""
    links = pg.locator("#downloads a")
    expect(links).to_have_count(2)
    names = {}
    for i in range(2):
        with pg.expect_download() as d:
            links.nth(i).click()
        path = folder / d.value.suggested_filename
        d.value.save_as(path)
        names[path.suffix] = path
    return names


def zip_frames(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return sorted(Path(n).stem for n in zf.namelist() if n.endswith(".png"))


def test_video_with_sound_end_to_end(page, tmp_path):
    """A 10-frame 23.976 fps video with an AAC track: the downloaded mp4 has its frame count, exact rate and audio."""
    from fractions import Fraction

    import av
    from media import write_test_video

    from svcnet.data.video import probe_video

    fps = Fraction(24000, 1001)
    frames = [cv2.resize(read_rgb(p), (224, 128), interpolation=cv2.INTER_AREA) for p in sorted(DEMO.iterdir())[:10]]
    video = tmp_path / "film.mp4"
    write_test_video(video, frames, fps, 10)
    project = tmp_path / "film.studio"
    open_in_page(page, video, project)
    pick_palette_colour(page, "#e6194b")
    scribble = save(page, project, lambda pg: stroke(pg, (50, 75), (150, 75), size=(128, 224)))
    assert scribble.shape == (128, 224, 3) and scribble.any()
    assert colorize(page, project, "whole clip (10 frames)") == "done"
    shot(page, "08-video-colorized")
    names = download_results(page, tmp_path)
    src, dst = probe_video(video), probe_video(names[".mp4"])
    assert (dst.frames, dst.fps, dst.audio) == (10, fps, src.audio) and src.audio is not None

    def audio_packets(path):
        with av.open(str(path)) as container:
            return [(p.pts * p.time_base, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.size]

    assert audio_packets(names[".mp4"]) == audio_packets(video)
    assert zip_frames(names[".zip"]) == [f"{i:05d}" for i in range(10)]


def test_failed_job_then_one_shot(page, server, tmp_path):
    """A corrupt CPNet checkpoint makes the job fail: a ⚠ message in the page, the server keeps serving; then with
    good weights, shot 2 of a two-shot clip is colorized alone: the downloads hold exactly its frames."""
    import av

    url, _ = server
    clip = tmp_path / "two"
    clip.mkdir()
    davis = DEMO.parents[1]
    for i, p in enumerate(sorted(DEMO.iterdir())[:5] + sorted((davis / "car-shadow" / "frames").iterdir())[:5]):
        shutil.copy(p, clip / f"{i:05d}.jpg")
    project = tmp_path / "two.studio"
    open_in_page(page, clip, project)
    expect(page.locator("#project")).to_contain_text("2 shot(s)")
    field = page.locator("#frame input[type=number]")
    field.fill("5")
    field.press("Enter")
    wait_status(page, "frame 00005 (#5)")
    wait_editor_ready(page)
    pick_palette_colour(page, "#e6194b")
    save(page, project, lambda pg: stroke(pg, *STROKE), frame="00005")

    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\0" * 4096)
    page.locator("button.label-wrap", has_text="Weights").click()  # open the Weights accordion
    page.locator("#cpnet_path textarea, #cpnet_path input").first.fill(str(corrupt))
    page.locator("#use_ckpt").click()
    wait_status(page, "checkpoints set")
    assert colorize(page, project, "shot 2: frames 5–9") == "failed"
    error = page.locator("#job_error")
    expect(error).to_contain_text("⚠ colorize failed: cannot read checkpoint")
    assert "Traceback" not in page.locator("#job").inner_text()
    assert json.loads((project / "job" / "job.json").read_text())["state"] == "failed"
    shot(page, "09-job-failed")
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200

    page.locator("#cpnet_path textarea, #cpnet_path input").first.fill("")
    page.locator("#use_ckpt").click()
    wait_status(page, "checkpoints set")
    assert colorize(page, project, "shot 2: frames 5–9") == "done"
    shot(page, "10-shot-colorized")
    state = json.loads((project / "job" / "job.json").read_text())
    assert state["request"]["span"] == [5, 10] and state["request"]["what"] == "shot 2: frames 5–9"
    names = download_results(page, tmp_path)
    assert zip_frames(names[".zip"]) == [f"{i:05d}" for i in range(5, 10)]
    with av.open(str(names[".mp4"])) as container:
        assert sum(1 for _ in container.decode(video=0)) == 5
    # the Input player beside the result plays the same shot: frames 5-9 of the clip
    player = page.locator("#input_video video")
    expect(player).to_have_attribute("src", re.compile(r"input_00005_00010\.mp4$"))
    with urllib.request.urlopen(player.evaluate("v => v.src"), timeout=10) as r:
        (tmp_path / "input_shot.mp4").write_bytes(r.read())
    with av.open(str(tmp_path / "input_shot.mp4")) as container:
        played = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    assert len(played) == 5
    diff = [np.abs(played[0] - read_rgb(clip / f"{i:05d}.jpg")).mean() for i in (4, 5)]
    assert diff[1] < 6 < diff[0], diff  # shot 2's first frame, not shot 1's last
