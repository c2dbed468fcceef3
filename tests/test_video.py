"""Video files (``svcnet.data.video``): exact frame rate, frame count and timestamps, the audio stream copied packet for
packet, lossless codecs, deterministic bytes across processes and CPU sets, and ``svcnet colorize`` on a 23.976 fps
video with sound. Test videos are made here with PyAV from the embedded DAVIS frames and a generated tone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from media import write_test_video

from svcnet.cli import main
from svcnet.data.frames import list_frames, read_rgb, write_png
from svcnet.data.video import (
    VideoSettings,
    encode_frames,
    encode_video,
    iter_frames,
    output_suffix,
    parse_fps,
    probe_video,
    x264_params,
)
from svcnet.errors import InputError

REPO = Path(__file__).resolve().parents[1]
NTSC_FILM = Fraction(24000, 1001)


def demo_frames(n: int, h: int = 64, w: int = 112) -> list[np.ndarray]:
    files = list_frames(REPO / "datasets" / "demo" / "davis" / "blackswan" / "frames")[:n]
    return [cv2.resize(read_rgb(p), (w, h), interpolation=cv2.INTER_AREA) for p in files]


def png_frames(folder: Path, frames: list[np.ndarray]) -> list[Path]:
    paths = [folder / f"{i:05d}.png" for i in range(len(frames))]
    for p, img in zip(paths, frames):
        write_png(p, img)
    return paths


def frame_times(path: Path) -> list[Fraction]:
    import av

    with av.open(str(path)) as container:
        return [frame.pts * frame.time_base for frame in container.decode(video=0)]


def audio_packets(path: Path) -> list[tuple[Fraction, bytes]]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(p.pts * p.time_base, bytes(p)) for p in container.demux(stream) if p.size]


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    """10 frames of 64×112 at 24000/1001 fps with a stereo AAC tone as long as the video."""
    path = tmp_path_factory.mktemp("film") / "film.mp4"
    write_test_video(path, demo_frames(10), NTSC_FILM, 10)
    return path


def test_parse_fps():
    assert parse_fps("24000/1001") == NTSC_FILM and parse_fps("30000:1001") == Fraction(30000, 1001)
    assert parse_fps("25") == 25 and parse_fps("23.976") == Fraction(2997, 125) and parse_fps(12.5) == Fraction(25, 2)
    assert parse_fps(float(NTSC_FILM)) == NTSC_FILM
    for bad in ("0", "-25", "abc", "1/0"):
        with pytest.raises(InputError, match="frame rate must be"):
            parse_fps(bad)


def test_settings_are_checked():
    with pytest.raises(InputError, match="unknown video codec 'h265'; choose libx264, libx264rgb, ffv1"):
        VideoSettings("h265")
    with pytest.raises(InputError, match="0-51"):
        VideoSettings(crf=52)
    assert VideoSettings("libx264rgb", 0).lossless and VideoSettings("ffv1").lossless and not VideoSettings().lossless


def test_probe_and_read(film):
    info = probe_video(film)
    assert info.fps == NTSC_FILM and info.frames == 10 and (info.height, info.width) == (64, 112)
    assert info.duration == pytest.approx(10 * 1001 / 24000)
    assert info.audio.codec == "aac" and info.audio.sample_rate == 48000 and info.audio.channels == 2
    assert abs(info.audio.duration - info.duration) <= 1024 / 48000
    frames = list(iter_frames(film))
    assert len(frames) == 10 and frames[0].shape == (64, 112, 3) and frames[0].dtype == np.uint8
    later = list(iter_frames(film, start=7))
    assert len(later) == 3 and all(np.array_equal(a, b) for a, b in zip(later, frames[7:]))


def test_unreadable_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(InputError) as err:
        probe_video(bad)
    assert str(err.value) == f"cannot read video {bad}: Invalid data found when processing input"
    with pytest.raises(InputError, match="video not found"):
        list(iter_frames(tmp_path / "missing.mp4"))


def test_encode_keeps_rate_timestamps_and_audio(film, tmp_path):
    paths = png_frames(tmp_path / "png", list(iter_frames(film)))
    out = tmp_path / "out.mp4"
    info = encode_video(paths, out, NTSC_FILM, VideoSettings(), audio_from=film)
    assert info["fps"] == "24000/1001" and info["frames"] == 10 and info["audio"]["codec"] == "aac"
    src, dst = probe_video(film), probe_video(out)
    assert dst.fps == NTSC_FILM and dst.frames == 10 and dst.audio == src.audio
    assert frame_times(out) == frame_times(film) == [i * 1001 / Fraction(24000) for i in range(10)]
    assert audio_packets(out) == audio_packets(film)  # the same bytes at the same times: copied, not re-encoded


@pytest.mark.parametrize("codec", ["libx264rgb", "ffv1"])
def test_lossless_codecs(codec, tmp_path):
    frames = demo_frames(3, 63, 111)  # odd sizes are kept (only 4:2:0 needs even sizes)
    out = tmp_path / f"out{output_suffix(VideoSettings(codec, 0))}"
    encode_video(png_frames(tmp_path, frames), out, 25, VideoSettings(codec, 0))
    decoded = list(iter_frames(out))
    assert len(decoded) == 3 and all(np.array_equal(a, b) for a, b in zip(decoded, frames))


def test_odd_size_padded_for_420(tmp_path):
    out = tmp_path / "out.mp4"
    encode_video(png_frames(tmp_path, demo_frames(2, 63, 111)), out, 25)
    assert next(iter_frames(out)).shape == (64, 112, 3)


def test_audio_mp4_cannot_hold(tmp_path):
    """8-bit PCM goes into Matroska; mu-law fits neither mp4 nor Matroska and is left out, as the result says."""
    frames = demo_frames(4)
    paths = png_frames(tmp_path, frames)
    pcm = tmp_path / "pcm.mkv"
    write_test_video(pcm, frames, NTSC_FILM, 4, audio_codec="pcm_u8", sample_rate=8000)
    suffix = output_suffix(VideoSettings(), probe_video(pcm).audio.codec)
    assert suffix == ".mkv"
    info = encode_video(paths, tmp_path / f"out{suffix}", NTSC_FILM, audio_from=pcm)
    assert info["audio"]["codec"] == "pcm_u8" and audio_packets(tmp_path / "out.mkv") == audio_packets(pcm)
    mulaw = tmp_path / "mulaw.mov"
    write_test_video(mulaw, frames, NTSC_FILM, 4, audio_codec="pcm_mulaw", sample_rate=8000)
    info = encode_video(paths, tmp_path / "mulaw_out.mp4", NTSC_FILM, audio_from=mulaw)
    assert info["audio"] is None and "does not take pcm_mulaw" in info["audio_note"]
    assert probe_video(tmp_path / "mulaw_out.mp4").audio is None


ENCODE = """
import os, sys
from pathlib import Path
from svcnet.data.video import encode_video
if sys.argv[1] != "all":
    os.sched_setaffinity(0, {int(sys.argv[1])})
paths = sorted(Path(sys.argv[2]).glob("*.png"))
encode_video(paths, Path(sys.argv[3]), "24000/1001", audio_from=Path(sys.argv[4]))
"""


def test_encoding_is_deterministic(film, tmp_path):
    """Two processes encode the same frames at once, under load, one of them on a single CPU: the same bytes. (With
    x264's automatic thread count, which follows the CPUs a process may use, they differ on a machine with several
    CPUs; the frames are 128×224 as x264 caps its threads by the frame height.)"""
    folder = tmp_path / "png"
    png_frames(folder, demo_frames(12, 128, 224))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    load = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        cpus = sorted(os.sched_getaffinity(0))
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", ENCODE, cpu, str(folder), str(tmp_path / f"{i}.mp4"), str(film)], env=env
            )
            for i, cpu in enumerate(["all", str(cpus[0])])
        ]
        assert [r.wait() for r in runs] == [0, 0]
    finally:
        load.kill()
        load.wait()
    assert (tmp_path / "0.mp4").read_bytes() == (tmp_path / "1.mp4").read_bytes()


def test_x264_params():
    assert x264_params(avx512=True) == {"x264-params": "asm=AVX2"}
    assert x264_params(avx512=False) == {}


def test_encoding_repeats_in_one_process(tmp_path):
    """The demo clips' 150 frames at 256×448 encoded four times in one process: the same bytes each time. (With x264's
    AVX-512 code, on a CPU that has it, the first encodes of a process differ from the later ones.)"""
    clips = sorted((REPO / "datasets" / "demo" / "davis").iterdir())
    frames = [read_rgb(p) for c in clips if c.is_dir() for p in list_frames(c / "frames")]
    assert len(frames) == 150 and {f.shape for f in frames} == {(256, 448, 3)}
    digests = set()
    for _ in range(4):
        encode_frames(frames, tmp_path / "repeat.mp4", NTSC_FILM)
        digests.add((tmp_path / "repeat.mp4").read_bytes())
    assert len(digests) == 1


def test_colorize_video_keeps_timing_and_sound(film, random_weights_dir, tmp_path, capsys):
    scribble = np.zeros((64, 112, 3), np.uint8)
    scribble[20:26, 30:36] = (230, 40, 30)
    write_png(tmp_path / "first.png", scribble)
    out = tmp_path / "out"
    argv = ["colorize", str(film), "-s", str(tmp_path / "first.png"), "-o", str(out), "-w", str(random_weights_dir)]
    code = main([*argv, "--size", "64x112", "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["video"] == "colorized.mp4" and meta["fps_exact"] == "24000/1001"
    assert meta["video_encoding"]["codec"] == "libx264" and meta["video_encoding"]["crf"] == 18
    assert meta["video_encoding"]["audio"]["codec"] == "aac"
    src, dst = probe_video(film), probe_video(out / "colorized.mp4")
    assert dst.fps == src.fps == NTSC_FILM and dst.frames == src.frames == len(meta["frames"]) == 10
    assert dst.audio == src.audio and abs(dst.duration - src.duration) < 1 / float(src.fps)
    assert frame_times(out / "colorized.mp4") == frame_times(film)
    assert audio_packets(out / "colorized.mp4") == audio_packets(film)


def test_colorize_copies_audio_only_at_the_input_rate(film, tmp_path):
    from svcnet.infer.inputs import open_clip
    from svcnet.infer.run import _audio_source

    assert _audio_source(open_clip(film), None) == film
    assert _audio_source(open_clip(film, fps=NTSC_FILM), NTSC_FILM) == film
    assert _audio_source(open_clip(film, fps=Fraction(25)), Fraction(25)) is None  # would drift out of sync
    png_frames(tmp_path, demo_frames(2))
    assert _audio_source(open_clip(tmp_path, fps=NTSC_FILM), NTSC_FILM) is None
