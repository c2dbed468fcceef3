"""Film mode of ``svcnet colorize`` on real frames (the embedded DAVIS demo clips) with the fake official weights at
64×112, CPU, DIS flow: shots are never crossed, keyframe scribbles (per-frame folder and first-frame image give the
single-clip results, the nearest keyframe wins), an interrupted run (SIGKILL) continues to the same bytes."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from svcnet.cli import main
from svcnet.data.frames import list_frames, read_rgb, write_png
from svcnet.data.shots import Shot, detect_shots, read_shot_list
from svcnet.errors import InputError
from svcnet.infer.api import colorize_clip
from svcnet.infer.carry import to_work_size
from svcnet.infer.flow import FlowBackend, dis_backend
from svcnet.infer.keyframes import KeyframeCarrier, backward_segments, carry_keyframes, carry_step, nearest_keyframe
from svcnet.infer.preprocess import frame_tensors
from svcnet.infer.streaming import InferenceConfig
from svcnet.infer.writers import WorkFolder

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "datasets" / "demo" / "davis"
WORK = (32, 64)
SIZE = "32x64"
SHOT = 5  # frames taken from each demo clip


def demo_frames(clip: str, n: int = SHOT) -> list[np.ndarray]:
    return [read_rgb(p) for p in list_frames(DEMO / clip / "frames")[:n]]


def blob(colour, x: int) -> np.ndarray:
    img = np.zeros((256, 448, 3), np.uint8)
    img[100:140, x : x + 60] = colour
    img[200:220, 300:340] = colour[::-1]
    return img


RED, BLUE = blob((220, 40, 30), 120), blob((30, 60, 220), 200)


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """Two shots: 5 blackswan frames then 4 car-shadow frames (000…008); keyframes on frames 0 and 4 of the first
    shot and on the second frame of the second (6), so scribbles are carried forward, backward and on a tie."""
    root = tmp_path_factory.mktemp("film")
    for i, img in enumerate(demo_frames("blackswan") + demo_frames("car-shadow", 4)):
        write_png(root / "frames" / f"{i:03d}.png", img)
    for i, img in KEYS.items():
        write_png(root / "keys" / f"{i:03d}.png", img)
    return root


KEYS = {0: RED, 4: BLUE, 6: RED[:, ::-1]}


@pytest.fixture(scope="module")
def models(random_weights_dir):
    from svcnet.infer.models import WeightOptions, load_models

    opts = WeightOptions(weights_dir=random_weights_dir)
    return load_models("svcnet", "dis", opts, torch.device("cpu"), carry=True)[0]


def argv(frames, scribbles, out, weights) -> list[str]:
    return [
        *("colorize", str(frames), "-s", str(scribbles), "-o", str(out), "-w", str(weights), "--size", SIZE),
        *("--flow", "dis", "--device", "cpu", "-q"),
    ]


def colorize(frames, scribbles, out, weights, *extra) -> Path:
    assert main([*argv(frames, scribbles, out, weights), *extra]) == 0
    return out


def out_frames(out: Path) -> list[np.ndarray]:
    meta = json.loads((out / "metadata.json").read_text())
    return [read_rgb(out / "frames" / f"{n}.png") for n in meta["frames"]]


def l8_of(frames: list[np.ndarray]) -> list[torch.Tensor]:
    return [frame_tensors(f, WORK, transform=False)[0] for f in frames]


@pytest.fixture(scope="module")
def film_out(film, random_weights_dir, tmp_path_factory):
    """The uninterrupted run of the two-shot film (shots found automatically)."""
    return colorize(film / "frames", film / "keys", tmp_path_factory.mktemp("o") / "out", random_weights_dir)


def test_shots_are_never_crossed_and_the_nearest_keyframe_wins(film_out, models):
    """Each shot of the film gives exactly what its clip alone gives with the scribbles its keyframes carry within
    it (:func:`carry_keyframes`) as per-frame scribbles, so nothing of the first shot reaches the second."""
    meta = json.loads((film_out / "metadata.json").read_text())
    assert [(s["start"], s["end"], s["keyframes"]) for s in meta["shots"]] == [(0, 5, [0, 4]), (5, 9, [6])]
    assert meta["keyframes"] == [0, 4, 6] and meta["frame_sources"] == {"ssnet": 9}
    assert meta["request"]["shots"] == "auto" and meta["scribbles"]["mode"].startswith("carried")
    got = out_frames(film_out)
    config = InferenceConfig(work_size=WORK, lightness=meta["lightness"])
    for clip, keys, frames in (
        ("blackswan", {0: RED, 4: BLUE}, got[:SHOT]),
        ("car-shadow", {1: KEYS[6]}, got[SHOT:]),
    ):
        shot = demo_frames(clip, len(frames))
        carried = [img for _, img in carry_keyframes(l8_of(shot), keys, dis_backend(), WORK)]
        alone = list(colorize_clip(shot, carried, models, config))
        assert all(np.array_equal(a, b) for a, b in zip(alone, frames, strict=True)), clip
    assert (film_out / "colorized.mp4").stat().st_size > 0


def test_carry_keyframes_nearest_wins_forward_and_backward(tmp_path):
    """Keyframes on frames 0 and 4 of a 6-frame shot: frames 1-2 take frame 0's carried forward (2 is a tie: the
    earlier keyframe), frame 3 frame 4's carried backward, frame 5 frame 4's carried forward."""
    assert [nearest_keyframe(t, [0, 4]) for t in range(6)] == [0, 0, 0, 4, 4, 4]
    assert [nearest_keyframe(t, [3, 6]) for t in range(8)] == [3, 3, 3, 3, 3, 6, 6, 6]
    assert nearest_keyframe(2, []) is None
    assert backward_segments([0, 4]) == [(3, 4)] and backward_segments([2, 5]) == [(0, 2), (4, 5)]
    l8 = l8_of(demo_frames("dog", 6))
    carried = dict(carry_keyframes(l8, {0: RED, 4: BLUE}, dis_backend(), WORK, spill=tmp_path / "spill"))
    assert sorted(carried) == list(range(6)) and not list((tmp_path / "spill").iterdir())
    flows = dis_backend()
    for i, x in enumerate(l8):
        flows.add_frame(i, x)
    red, blue = to_work_size(RED, WORK), to_work_size(BLUE, WORK)
    expect = {0: red, 4: blue}
    expect[1] = carry_step(red, flows.align(1, 0))
    expect[2] = carry_step(expect[1], flows.align(2, 1))
    expect[3] = carry_step(blue, flows.align(3, 4))
    expect[5] = carry_step(blue, flows.align(5, 4))
    for t in range(6):
        assert np.array_equal(carried[t], expect[t]), t
    assert not np.array_equal(expect[3], blue)  # the dog moves: carrying is not a copy
    black = dict(carry_keyframes(l8[:2], {}, dis_backend(), WORK))
    assert not black[0].any() and not black[1].any()  # a shot without keyframes has no scribble


def test_per_frame_folder_and_single_image_give_the_single_clip_results(random_weights_dir, models, tmp_path):
    """A scribble for every frame gives today's per-frame results; one first-frame image today's carried ones."""
    frames = demo_frames("blackswan", 3)
    scribbles = [np.roll(RED, 9 * i, axis=1) for i in range(3)]
    for i, img in enumerate(frames):
        write_png(tmp_path / "f" / f"{i}.png", img)
        write_png(tmp_path / "s" / f"{i}.png", scribbles[i])
    config = InferenceConfig(work_size=WORK)
    out = colorize(tmp_path / "f", tmp_path / "s", tmp_path / "per_frame", random_weights_dir)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["scribbles"]["mode"] == "one per frame"
    assert meta["shots"] == [{"start": 0, "end": 3, "keyframes": [0, 1, 2]}]
    today = colorize_clip(frames, scribbles, models, config)
    assert all(np.array_equal(a, b) for a, b in zip(today, out_frames(out), strict=True))
    write_png(tmp_path / "first.png", RED)
    out = colorize(tmp_path / "f", tmp_path / "first.png", tmp_path / "first", random_weights_dir, "--shots", "none")
    today = colorize_clip(frames, RED, models, config)
    assert all(np.array_equal(a, b) for a, b in zip(today, out_frames(out), strict=True))


def _frames_written(work: Path) -> int:
    folder = work / "out" / "frames"
    return len(list(folder.glob("*.png"))) if folder.is_dir() else 0


def _run_and_kill(cmd: list[str], work: Path, after: int) -> None:
    # the same torch thread count as this process: it is part of the device the work folder was started on
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(torch.get_num_threads())}
    code = "import sys; from svcnet.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *cmd], env=env, stderr=subprocess.DEVNULL)
    try:
        while _frames_written(work) < after:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()


def test_resume_after_sigkill_is_byte_identical(film, film_out, random_weights_dir, tmp_path, caplog):
    """Killed (SIGKILL) in the first shot, continued and killed again in the second, continued to the end: every
    PNG frame, metadata.json and the video are the uninterrupted run's bytes."""
    out = tmp_path / "out"
    work = WorkFolder(out).root
    cmd = argv(film / "frames", film / "keys", out, random_weights_dir)
    _run_and_kill(cmd, work, 2)
    assert not out.exists() and work.is_dir()
    first = _frames_written(work)
    _run_and_kill(cmd, work, 7)
    assert not out.exists() and _frames_written(work) >= first
    with caplog.at_level(logging.INFO, logger="svcnet"):
        assert main(cmd) == 0
    assert "continuing the interrupted run" in caplog.text
    assert not work.exists()
    names = sorted(p.relative_to(film_out) for p in film_out.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    differ = [str(n) for n in names if (out / n).read_bytes() != (film_out / n).read_bytes()]
    assert differ == [] and len(names) == 11


def test_work_folder_of_another_request_is_discarded(tmp_path, caplog):
    folder = WorkFolder(tmp_path / "out")
    assert folder.open({"request": 1}) is False
    folder.save("state.pt", {"next": 3})
    assert folder.open({"request": 1}) is True and folder.load("state.pt") == {"next": 3}
    with caplog.at_level(logging.INFO, logger="svcnet"):
        assert folder.open({"request": 2}) is False
    assert "discarding the work folder" in caplog.text and folder.load("state.pt") is None


def test_forward_carried_scribbles_kept_on_disk_are_bounded(tmp_path):
    """The forward-carried images a continued run may need are on disk, at most KEEP of them, and the chain can be
    picked up there."""

    def est(a, b):  # content moves right by 1 px per frame
        flow = torch.zeros(a.shape[0], 2, *a.shape[-2:])
        flow[:, 0] = -1.0
        return flow

    fb = FlowBackend("shift", est, convention="aligned")
    key = np.zeros((16, 32, 3), np.uint8)
    key[4:8, 2:6] = (200, 30, 40)
    carrier = KeyframeCarrier([0], lambda k: key, (16, 32), lambda img, size: img, store=tmp_path)
    images = []
    for t in range(20):
        fb.add_frame(t, torch.zeros(1, 1, 16, 32))
        images.append(carrier.image(t, fb))
    assert len(list(tmp_path.glob("*.npy"))) <= KeyframeCarrier.KEEP
    assert np.array_equal(images[3][4:8, 5:9], key[4:8, 2:6])
    again = KeyframeCarrier([0], lambda k: key, (16, 32), lambda img, size: img, store=tmp_path)
    assert np.array_equal(again.image(15, None), images[15])  # picked up from the disk, no flow needed
    fb.add_frame(16, torch.zeros(1, 1, 16, 32))
    assert np.array_equal(again.image(16, fb), images[16])


def test_shot_detection_and_shot_lists(tmp_path):
    frames = demo_frames("blackswan", 3) + demo_frames("dog", 4) + demo_frames("car-shadow", 2)
    assert detect_shots(iter(frames), 25.0) == [Shot(0, 3), Shot(3, 7), Shot(7, 9)]
    (tmp_path / "cuts.txt").write_text("# cuts\n3, 00:00:00:07\n")
    assert read_shot_list(tmp_path / "cuts.txt", 25.0, 9) == [Shot(0, 3), Shot(3, 7), Shot(7, 9)]
    (tmp_path / "bad.txt").write_text("3\nlater\n")
    with pytest.raises(InputError, match="line 2: 'later' is neither a frame number nor a timecode"):
        read_shot_list(tmp_path / "bad.txt", 25.0, 9)


def test_shot_list_file_and_a_one_frame_shot(film, random_weights_dir, tmp_path, caplog):
    """--shots FILE: three film frames cut by hand at 2 (a one-frame last shot without keyframe: CPNet's output, no
    scribble, a warning)."""
    (tmp_path / "cuts.txt").write_text("2\n")
    for name in ("000", "001", "002"):
        (tmp_path / "frames").mkdir(exist_ok=True)
        shutil.copy(film / "frames" / f"{name}.png", tmp_path / "frames")
    with caplog.at_level(logging.INFO, logger="svcnet"):
        out = colorize(
            tmp_path / "frames",
            film / "keys" / "000.png",
            tmp_path / "out",
            random_weights_dir,
            "--shots",
            str(tmp_path / "cuts.txt"),
        )
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["shots"] == [{"start": 0, "end": 2, "keyframes": [0]}, {"start": 2, "end": 3, "keyframes": []}]
    assert meta["frame_sources"] == {"ssnet": 2, "cpnet": 1}
    assert "1 of 2 shots have no keyframe scribble" in caplog.text
