"""``svcnet colorize`` end to end on random official-layout checkpoints (64×128 working size, CPU): outputs,
metadata, re-run, video input with a carried scribble, and one clear error line with nothing written
for every kind of bad input."""

from __future__ import annotations

import json
import re
import shutil

import cv2
import numpy as np
import pytest
import torch

from svcnet.cli import main
from svcnet.data.frames import read_rgb, write_mp4, write_png
from svcnet.sources import get_source, sha256_file

torch.set_num_threads(2)
SIZE = "64x128"
FILES = {name: get_source(name).file for name in ("cpnet", "ssnet", "pwcnet")}


def gray(i: int, h: int = 50, w: int = 90) -> np.ndarray:
    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur(rng.uniform(0, 255, (h + 20, w + 40)).astype(np.float32), (0, 0), 2.0)
    return cv2.normalize(scene, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)[i : i + h, 2 * i : 2 * i + w]


def scribble(h: int = 50, w: int = 90, seed: int = 0) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[10:14, 20:24] = (230, 40, 30)
    img[30:34, 60:64] = (20, 60, 220)
    return np.roll(img, seed, axis=1)


@pytest.fixture(scope="module")
def weights(random_weights_dir):
    """Random networks saved in the official layout under the official file names."""
    return random_weights_dir


@pytest.fixture()
def clip(tmp_path):
    """7 frames named 8…14 in mixed formats (8-bit RGB, gray, RGBA, 16-bit) with per-frame scribbles."""
    frames, scr = tmp_path / "frames", tmp_path / "scribbles"
    frames.mkdir()
    for k, i in enumerate(range(8, 15)):
        g = gray(k)
        if k % 4 == 0:
            write_png(frames / f"{i}.png", np.repeat(g[:, :, None], 3, 2))
        elif k % 4 == 1:
            cv2.imwrite(str(frames / f"{i}.png"), g)
        elif k % 4 == 2:
            cv2.imwrite(str(frames / f"{i}.png"), np.dstack([g, g, g, np.full_like(g, 255)]))
        else:
            cv2.imwrite(str(frames / f"{i}.png"), g.astype(np.uint16) * 257)
        write_png(scr / f"{i}.png", scribble(seed=k))
    return frames, scr


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def test_colorize_folder_pwc(clip, weights, tmp_path, capsys):
    frames, scr = clip
    out = tmp_path / "out"
    argv = ["colorize", str(frames), "--scribbles", str(scr), "--out", str(out), "--weights", str(weights)]
    argv += ["--size", SIZE, "--device", "cpu", "--quiet"]
    code, err = run(argv, capsys)
    assert code == 0, err
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["frames"] == [str(i) for i in range(8, 15)]
    for i in range(8, 15):
        img = read_rgb(out / "frames" / f"{i}.png")
        assert img.shape == (50, 90, 3)
    assert (out / "colorized.mp4").stat().st_size > 0
    assert meta["flow"]["backend"] == "pwcnet" and meta["flow"]["convention"] == "official"
    for name in ("cpnet", "ssnet", "pwcnet"):
        assert meta["weights"][name]["sha256"] == sha256_file(weights / FILES[name])
    assert meta["device"].startswith("cpu") and meta["edge_policy"] == "mirror"
    assert meta["frame_sources"] == {"ssnet": 7} and meta["work_size"] == [64, 128]
    assert "timings_s" not in meta  # timings go to the log: the metadata is the same on every run
    # colour actually comes out (scribbles differ from gray): not every pixel gray
    img = read_rgb(out / "frames" / "8.png").astype(int)
    assert np.abs(img[:, :, 0] - img[:, :, 2]).max() > 0
    # re-run: already done, nothing rewritten
    stamp = (out / "metadata.json").stat().st_mtime_ns
    code, err = run(argv, capsys)
    assert code == 0 and (out / "metadata.json").stat().st_mtime_ns == stamp


def test_colorize_video_carried_scribble_dis(weights, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    write_mp4(video, [np.repeat(gray(i, 48, 80)[:, :, None], 3, 2) for i in range(5)], fps=10)
    first = tmp_path / "first.png"
    write_png(first, scribble(48, 80))
    only = tmp_path / "w"
    only.mkdir()
    for name in ("cpnet", "ssnet"):  # no PWC-Net weights: DIS
        (only / FILES[name]).symlink_to(weights / FILES[name])
    out = tmp_path / "out"
    code, err = run(
        ["colorize", str(video), "-s", str(first), "-o", str(out), "-w", str(only), "--size", SIZE, "--quiet"], capsys
    )
    assert code == 0, err
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["frames"] == [f"{i:05d}" for i in range(5)] and meta["fps"] == pytest.approx(10)
    assert meta["flow"]["backend"].startswith("dis") and meta["flow"]["convention"] == "aligned"
    assert "pwcnet" not in meta["weights"] and meta["scribbles"]["mode"].startswith("carried")


def test_frame_range_is_the_range_alone(clip, weights, tmp_path, capsys):
    """--start-frame 2 --max-frames 3 gives exactly what a folder holding only those frames gives (scribbles of the
    other frames are ignored)."""
    frames, scr = clip
    alone_frames, alone_scr = tmp_path / "alone", tmp_path / "alone_scr"
    alone_frames.mkdir()
    alone_scr.mkdir()
    for i in (10, 11, 12):
        (alone_frames / f"{i}.png").write_bytes((frames / f"{i}.png").read_bytes())
    (alone_scr / "11.png").write_bytes((scr / "11.png").read_bytes())
    keys = tmp_path / "keys"
    keys.mkdir()
    for i in (9, 11, 13):  # keyframes before, in and after the range
        (keys / f"{i}.png").write_bytes((scr / f"{i}.png").read_bytes())
    base = ["--weights", str(weights), "--size", SIZE, "--device", "cpu", "--quiet", "--flow", "dis"]
    code, err = run(
        [
            "colorize",
            str(frames),
            "-s",
            str(keys),
            "-o",
            str(tmp_path / "range"),
            *base,
            "--start-frame",
            "2",
            "--max-frames",
            "3",
        ],
        capsys,
    )
    assert code == 0, err
    code, err = run(
        ["colorize", str(alone_frames), "-s", str(alone_scr), "-o", str(tmp_path / "alone_out"), *base], capsys
    )
    assert code == 0, err
    meta = json.loads((tmp_path / "range" / "metadata.json").read_text())
    assert meta["frames"] == ["10", "11", "12"] and meta["keyframes"] == [1]
    assert meta["request"]["start_frame"] == 2 and meta["request"]["max_frames"] == 3
    for i in (10, 11, 12):
        a, b = (
            read_rgb(tmp_path / "range" / "frames" / f"{i}.png"),
            read_rgb(tmp_path / "alone_out" / "frames" / f"{i}.png"),
        )
        assert np.array_equal(a, b)
    code, err = run(
        ["colorize", str(frames), "-s", str(keys), "-o", str(tmp_path / "x"), *base, "--start-frame", "7"], capsys
    )
    assert code == 2 and "--start-frame 7 is past the last frame" in err


def test_frame_range_of_a_video_keeps_its_names_and_sound(weights, tmp_path, capsys):
    """A range of a video with sound: frames named by their number in the video, the exact rate, and the input's
    audio packets that start in the range, at their times relative to the range's first frame."""
    from fractions import Fraction

    import av
    from media import write_test_video

    from svcnet.data.video import probe_video

    fps = Fraction(24000, 1001)
    video = tmp_path / "film.mp4"
    write_test_video(video, [np.repeat(gray(i, 48, 80)[:, :, None], 3, 2) for i in range(10)], fps, 10)
    keys = tmp_path / "keys"
    write_png(keys / "00005.png", scribble(48, 80))
    write_png(keys / "00001.png", scribble(48, 80))  # before the range: ignored
    out = tmp_path / "out"
    base = ["-w", str(weights), "--size", SIZE, "--device", "cpu", "--quiet", "--flow", "dis"]
    code, err = run(
        ["colorize", str(video), "-s", str(keys), "-o", str(out), *base, "--start-frame", "4", "--max-frames", "4"],
        capsys,
    )
    assert code == 0, err
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["frames"] == ["00004", "00005", "00006", "00007"] and meta["keyframes"] == [1]
    info = probe_video(out / "colorized.mp4")
    assert info.frames == 4 and info.fps == fps and info.audio.codec == "aac"

    def packets(path):
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            return [(p.pts * p.time_base, bytes(p)) for p in container.demux(stream) if p.size]

    start, end = Fraction(4) / fps, Fraction(8) / fps
    wanted = [(t - start, data) for t, data in packets(video) if start <= t < end]
    got = packets(out / "colorized.mp4")
    assert [data for _, data in got] == [data for _, data in wanted] and len(wanted) > 5
    # in place to the millisecond: mp4 keeps the gap before the first packet in its edit list, in milliseconds
    assert all(abs(t - u) <= Fraction(1, 1000) for (t, _), (u, _) in zip(got, wanted))
    code, err = run(
        ["colorize", str(video), "-s", str(keys), "-o", str(tmp_path / "x"), *base, "--start-frame", "10"], capsys
    )
    assert code == 2 and "--start-frame 10 is past the last frame" in err and "(10 frames)" in err


def test_cpnet_method_single_frame(weights, tmp_path, capsys):
    frames = tmp_path / "one"
    write_png(frames / "0.png", np.repeat(gray(0)[:, :, None], 3, 2))
    out = tmp_path / "out"
    code, err = run(
        [
            "colorize",
            str(frames),
            "-s",
            str(frames),
            "-o",
            str(out),
            "-w",
            str(weights),
            "--size",
            SIZE,
            "--method",
            "cpnet",
            "--no-video",
            "-q",
        ],
        capsys,
    )
    assert code == 0, err
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["frame_sources"] == {"cpnet": 1} and set(meta["weights"]) == {"cpnet"} and meta["video"] is None


def _assert_error(argv, capsys, out, pattern):
    import re

    code, err = run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("svcnet: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]  # no temporaries left


def test_bad_inputs(clip, tmp_path, capsys):
    """Inputs are checked before any weights are loaded (the weights folder here does not even exist)."""
    frames, scr = clip
    out = tmp_path / "out"
    base = ["--out", str(out), "--weights", str(tmp_path / "no_weights"), "--size", SIZE, "-q"]
    _assert_error(["colorize", str(tmp_path / "nope"), "-s", str(scr), *base], capsys, out, "input not found")
    (tmp_path / "empty").mkdir()
    _assert_error(["colorize", str(tmp_path / "empty"), "-s", str(scr), *base], capsys, out, "no image frames")
    _assert_error(
        ["colorize", str(frames), "-s", str(scr), *base, "--max-frames", "1"],
        capsys,
        out,
        "1 frame; SVCNet needs at least 2",
    )
    _assert_error(
        ["colorize", str(frames), "-s", str(scr), *base, "--edge", "official", "--max-frames", "5"],
        capsys,
        out,
        "needs at least 7",
    )
    _assert_error(["colorize", str(frames), "-s", str(scr), *base, "--size", "60x128"], capsys, out, "multiples of 16")
    codec = ["--video-codec", "h265"]
    _assert_error(["colorize", str(frames), "-s", str(scr), *base, *codec], capsys, out, "unknown video codec 'h265'")
    quality = ["--video-quality", "99"]
    _assert_error(["colorize", str(frames), "-s", str(scr), *base, *quality], capsys, out, "must be 0-51, got 99")
    _assert_error(
        ["colorize", str(frames), "-s", str(scr), *base, "--shots", "nope"], capsys, out, "--shots 'nope': expected"
    )
    (tmp_path / "cuts.txt").write_text("3\n99\n")
    _assert_error(
        ["colorize", str(frames), "-s", str(scr), *base, "--shots", str(tmp_path / "cuts.txt")],
        capsys,
        out,
        "line 2: cut .99. = frame 99 is past the last frame",
    )
    (tmp_path / "empty_scr").mkdir()
    _assert_error(
        ["colorize", str(frames), "-s", str(tmp_path / "empty_scr"), *base], capsys, out, "no scribble images"
    )
    write_png(scr / "14.png", scribble(40, 90))
    _assert_error(
        ["colorize", str(frames), "-s", str(scr), *base], capsys, out, r"14.png is 90x40 \(W x H\); scribbles must be"
    )
    write_png(scr / "14.png", scribble())
    write_png(scr / "15.png", scribble())
    _assert_error(["colorize", str(frames), "-s", str(scr), *base], capsys, out, "scribble count mismatch")
    (scr / "15.png").unlink()
    (frames / "13.png").write_bytes(b"garbage")
    _assert_error(["colorize", str(frames), "-s", str(scr), *base], capsys, out, "cannot read image .*13.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    code, err = run(["colorize", str(frames), "-s", str(scr), *base], capsys)
    assert code == 2 and "not empty and is not an earlier" in err and (tmp_path / "out" / "mine.txt").is_file()


def test_frame_broken_mid_clip_writes_nothing(clip, weights, tmp_path, capsys):
    frames, scr = clip
    out = tmp_path / "out"
    data = (frames / "13.png").read_bytes()
    (frames / "13.png").write_bytes(data[: len(data) // 2])  # header fine, pixels truncated: fails mid-clip
    _assert_error(
        ["colorize", str(frames), "-s", str(scr), "-o", str(out), "-w", str(weights), "--size", SIZE, "-q"],
        capsys,
        out,
        "cannot decode image .*13.png",
    )


def test_bad_weights(clip, weights, tmp_path, capsys):
    frames, scr = clip
    out = tmp_path / "out"
    args = ["colorize", str(frames), "-s", str(scr), "-o", str(out), "--size", SIZE, "-q"]
    _assert_error(
        [*args, "-w", str(tmp_path / "empty_weights")],
        capsys,
        out,
        r"missing weights cpnet: expected cpnet_epoch1000_batchsize32\.pth .*To get it",
    )
    _assert_error(
        [*args, "-w", str(weights), "--flow", "pwc", "--pwcnet", str(tmp_path / "pwc.pth")],
        capsys,
        out,
        r"missing weights pwcnet",
    )
    sd = torch.load(weights / FILES["ssnet"], map_location="cpu", weights_only=True)
    renamed = dict(sd)
    key = next(iter(renamed))
    renamed[key + "_x"] = renamed.pop(key)
    torch.save(renamed, tmp_path / "ssnet_keys.pth")
    _assert_error(
        [*args, "-w", str(weights), "--ssnet", str(tmp_path / "ssnet_keys.pth")], capsys, out, key.replace(".", r"\.")
    )
    shaped = dict(sd)
    key = next(k for k, v in shaped.items() if v.ndim == 4)
    shaped[key] = torch.zeros(1, *shaped[key].shape[1:])
    torch.save(shaped, tmp_path / "ssnet_shape.pth")
    _assert_error(
        [*args, "-w", str(weights), "--ssnet", str(tmp_path / "ssnet_shape.pth")], capsys, out, key.replace(".", r"\.")
    )
    _assert_error(
        [*args, "-w", str(weights), "--device", "cuda"]
        if not torch.cuda.is_available()
        else [*args, "-w", str(weights), "--device", "tpu"],
        capsys,
        out,
        "cuda|device",
    )


def test_infer_set_original_size_frames_working_size_scribbles_official_edge(clip, weights, tmp_path, capsys):
    """The paper path: original-size frames (90x50), scribbles at the working size (<frame>_64p.png, 128x64), the
    official edge policy: original-size output whose first and last 3 frames are CPNet's."""
    import shutil

    frames, _ = clip
    split, scr = tmp_path / "split", tmp_path / "scr"
    shutil.copytree(frames, split / "c" / "frames")
    for i in range(8, 15):
        write_png(scr / "c" / f"{i}_64p.png", scribble(64, 128, seed=i))
    out = tmp_path / "out"
    argv = ["infer-set", str(split), "--method", "svcnet", "-s", str(scr), "-o", str(out), "-w", str(weights)]
    code, err = run([*argv, "--size", SIZE, "--edge", "official", "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    meta = json.loads((out / "c" / "metadata.json").read_text())
    assert meta["edge_policy"] == "official" and meta["frame_sources"] == {"cpnet": 6, "ssnet": 1}
    assert meta["work_size"] == [64, 128] and meta["input_size"] == [50, 90]
    assert all(read_rgb(out / "c" / "frames" / f"{i}.png").shape == (50, 90, 3) for i in range(8, 15))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["colorize", "frames", "-o", "out"], "Missing option '--scribbles'"),
        (["colorize", "frames", "-s", "s", "-o", "out", "--max-frames", "many"], "Invalid value for '--max-frames'"),
        (["no-such-command"], "No such command 'no-such-command'"),
    ],
)
def test_usage_errors_are_one_message_not_a_traceback(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_one_error_line_and_the_rerun_finishes(clip, weights, small_disk, tmp_path, capsys):
    frames, scr = clip
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (shutil.disk_usage(small_disk).free - 8192))  # room for a frame or two, not seven
    out = small_disk / "out"
    argv = ["colorize", str(frames), "-s", str(scr), "--weights", str(weights), "--size", SIZE, "--device", "cpu", "-q"]
    code, err = run([*argv, "--out", str(out)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert re.fullmatch(
        r"svcnet: error: no space left on (device|the disk holding \S+ \(0 MiB free.*\)): .+ intact", lines[0]
    )
    assert not out.exists()
    filler.unlink()
    code, err = run([*argv, "--out", str(out)], capsys)  # with room again, the same command finishes
    assert code == 0, err
    code, err = run([*argv, "--out", str(tmp_path / "roomy")], capsys)
    assert code == 0, err
    names = {p.name for p in (out / "frames").iterdir()}
    assert names == {f"{i}.png" for i in range(8, 15)}
    assert all((out / "frames" / n).read_bytes() == (tmp_path / "roomy" / "frames" / n).read_bytes() for n in names)
