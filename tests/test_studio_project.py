"""The studio's logic without a browser: project folders, the official scribble files, keyframes carried to every
frame of their shot, the editor's layers, the job state after a dead worker."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from svcnet.data.frames import read_rgb, write_mp4
from svcnet.errors import InputError
from svcnet.infer.models import WeightOptions
from svcnet.studio import jobs
from svcnet.studio.preview import weights_used
from svcnet.studio.project import Project, default_project_dir

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis" / "blackswan" / "frames"
RED, BLUE = (230, 25, 75), (30, 144, 255)


@pytest.fixture()
def still_clip(tmp_path) -> Path:
    """7 copies of one demo frame (no motion: carried scribbles stay in place)."""
    clip = tmp_path / "still"
    clip.mkdir()
    for i in range(7):
        shutil.copy(sorted(DEMO.iterdir())[0], clip / f"{i:05d}.jpg")
    return clip


def square(size, colour, y=100, x=200) -> np.ndarray:
    img = np.zeros((*size, 3), np.uint8)
    img[y : y + 24, x : x + 40] = colour
    return img


def test_project_of_a_video_saves_official_scribbles(tmp_path):
    frames = [read_rgb(p) for p in sorted(DEMO.iterdir())[:4]]
    write_mp4(tmp_path / "clip.mp4", frames, fps=25)
    p = Project(tmp_path / "clip.mp4")
    assert p.folder == default_project_dir(tmp_path / "clip.mp4") == tmp_path / "clip.studio"
    assert (p.names, p.size, [(s.start, s.end) for s in p.shots]) == (
        ["00000", "00001", "00002", "00003"],
        (256, 448),
        [(0, 4)],
    )
    path = p.save_scribble(2, square(p.size, RED))
    assert path == tmp_path / "clip.studio" / "scribbles" / "00002.png"
    assert np.array_equal(read_rgb(path), square(p.size, RED)) and list(p.keyframes()) == [2]
    assert p.save_scribble(2, np.zeros((256, 448, 3), np.uint8)) is None and p.keyframes() == {}
    with pytest.raises(InputError, match="448x256"):
        p.save_scribble(0, np.zeros((10, 10, 3), np.uint8))


def test_project_folder_belongs_to_one_input(still_clip, tmp_path):
    Project(still_clip, tmp_path / "proj")
    other = tmp_path / "other"
    shutil.copytree(still_clip, other)
    with pytest.raises(InputError, match="belongs to"):
        Project(other, tmp_path / "proj")


def test_one_frame_clip_is_refused(tmp_path):
    (tmp_path / "one").mkdir()
    shutil.copy(sorted(DEMO.iterdir())[0], tmp_path / "one" / "0.jpg")
    with pytest.raises(InputError, match="has 1 frame"):
        Project(tmp_path / "one")


def test_weights_report_says_what_is_missing(tmp_path):
    text = weights_used(WeightOptions(weights_dir=tmp_path))
    assert text["cpnet"].startswith("missing") and "cpnet_epoch1000_batchsize32.pth" in text["cpnet"]
    assert text["pwcnet"].startswith("not found: optical flow by OpenCV DIS")


def test_editor_strokes_are_merged_into_the_saved_scribble():
    from svcnet.studio.app import editor_value, scribble_from_editor

    frame = np.full((4, 6, 3), 90, np.uint8)
    saved = np.zeros((4, 6, 3), np.uint8)
    saved[0, 0] = BLUE
    saved[3, 5] = BLUE
    layer = np.zeros((4, 6, 4), np.uint8)
    layer[1, 2] = (*RED, 255)
    layer[2, 3] = (*BLUE, 0)  # transparent: not painted (or erased)
    layer[3, 5] = (0, 0, 0, 255)  # a black stroke removes saved scribble
    out = scribble_from_editor({"background": frame, "layers": [layer], "composite": None}, saved)
    expected = np.zeros_like(saved)
    expected[0, 0] = BLUE
    expected[1, 2] = RED
    assert np.array_equal(out, expected)
    assert scribble_from_editor({"background": frame, "layers": [], "composite": None}, saved) is None
    assert scribble_from_editor({"background": frame, "layers": [np.zeros((4, 6, 4), np.uint8)]}, saved) is None
    value = editor_value(frame, out)
    assert value["layers"] == [] and value["background"][1, 2].tolist() == list(RED)
    assert value["background"][0, 1].tolist() == [90, 90, 90]


def test_a_dead_worker_is_a_failed_job(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "job").mkdir()
    state = {"state": "running", "pid": int(done.stdout), "frames": 3, "started": 0.0}
    (tmp_path / "job" / "job.json").write_text(json.dumps(state))
    st = jobs.status(tmp_path)
    assert st["state"] == "failed" and "stopped without finishing" in st["message"]
    assert json.loads((tmp_path / "job" / "job.json").read_text())["state"] == "failed"


def two_shot_clip(root: Path, n: int = 5) -> Path:
    """``n`` frames of blackswan then ``n`` of car-shadow (named 00000…): a clip with a cut at frame ``n``."""
    root.mkdir()
    davis = DEMO.parents[1]
    sources = sorted(DEMO.iterdir())[:n] + sorted((davis / "car-shadow" / "frames").iterdir())[:n]
    for i, p in enumerate(sources):
        shutil.copy(p, root / f"{i:05d}{p.suffix}")
    return root


def test_frames_are_read_on_demand_with_bounded_memory(tmp_path):
    from svcnet.studio.project import CACHED_FRAMES

    clip = two_shot_clip(tmp_path / "two", n=8)
    p = Project(clip)
    assert [(s.start, s.end) for s in p.shots] == [(0, 8), (8, 16)] and p.cached_frames == 0
    for i in [*range(len(p)), 3, 15, 0]:
        assert np.array_equal(p.frame(i), read_rgb(clip / f"{i:05d}.jpg"))
        assert p.cached_frames <= CACHED_FRAMES < len(p)


def write_gop_video(path: Path, frames: list[np.ndarray], gop: int) -> None:
    """H.264 with a keyframe every ``gop`` frames and B-frames (decoding order differs from display order)."""
    import av

    with av.open(str(path), "w") as dst:
        stream = dst.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"bf": "2", "sc_threshold": "0"}
        for img in frames:
            dst.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        dst.mux(stream.encode(None))


@pytest.mark.parametrize("gop", [4, 250])
def test_video_frames_in_any_order(tmp_path, gop):
    from svcnet.data.frames import iter_video_frames
    from svcnet.studio.project import CACHED_FRAMES, SEEK_AFTER

    frames = [read_rgb(p)[::4, ::4] for p in sorted(DEMO.iterdir())]  # 50
    write_gop_video(tmp_path / "clip.mp4", frames, gop)
    decoded = list(iter_video_frames(tmp_path / "clip.mp4"))
    p = Project(tmp_path / "clip.mp4")
    n = len(frames)
    assert len(p) == n > SEEK_AFTER and p.size == (64, 112)
    for i in [5, 6, 7, n - 1, 2, 2, 0, 13, 11, n - 2, 1, SEEK_AFTER, 9]:  # forward, backward, far jumps (seeks)
        assert np.array_equal(p.frame(i), decoded[i]), i
    assert p.cached_frames <= CACHED_FRAMES


def test_a_shot_job_colorizes_only_its_frames(tmp_path):
    from svcnet.studio.project import SCRIBBLES

    clip = two_shot_clip(tmp_path / "two")
    p = Project(clip, tmp_path / "proj")
    assert [(s.start, s.end) for s in p.shots] == [(0, 5), (5, 10)]
    request = jobs.colorize_request(p.folder, {"work_size": [64, 112], "span": [5, 10]})
    assert (request.start_frame, request.max_frames, request.shots) == (5, 5, "none")
    assert request.input == str(clip) and request.scribbles == str(p.folder / SCRIBBLES)
    whole = jobs.colorize_request(p.folder, {"work_size": [64, 112], "span": None})
    assert (whole.start_frame, whole.max_frames, whole.shots) == (0, None, "auto")


def test_studio_without_its_extra_says_how_to_install_it(tmp_path):
    """With Gradio missing, `svcnet studio` stops with one line naming the extra, before opening anything."""
    code = "import sys; sys.modules['gradio'] = None; from svcnet.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "studio", str(DEMO), "--project", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("svcnet: error: the studio needs its optional extra: pip install -e '.[studio]'")
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "p").exists()
