"""Test videos made with PyAV: given frames at an exact rate, with a sine-tone audio track as long as the video."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np


def write_test_video(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: Fraction,
    n_frames: int,
    audio_codec: str | None = "aac",
    sample_rate: int = 48000,
    video_codec: str = "libx264",
) -> None:
    """``n_frames`` uint8 RGB frames (even sizes) at ``fps`` and, unless ``audio_codec`` is None, a 440 Hz stereo
    tone of the same duration, interleaved as a camera or editor would write them."""
    import av

    with av.open(str(path), "w") as dst:
        video = dst.add_stream(video_codec, rate=fps)
        video.codec_context.time_base = 1 / fps
        video.pix_fmt = "yuv420p"
        video.thread_count = 1
        audio = None
        if audio_codec is not None:
            audio = dst.add_stream(audio_codec, rate=sample_rate)
            audio.layout = "stereo"
        total = round(n_frames / fps * sample_rate)
        done = 0
        for i, img in enumerate(frames):
            if i == 0:
                video.height, video.width = img.shape[:2]
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, 1 / fps
            dst.mux(video.encode(frame))
            while audio is not None and done < min(total, round((i + 1) / fps * sample_rate)):
                n = min(1024, total - done)
                t = (np.arange(done, done + n) / sample_rate).astype(np.float32)
                tone = _samples(0.3 * np.sin(2 * np.pi * 440 * t), audio.format.name)
                samples = np.stack([tone, tone]) if audio.format.is_planar else np.stack([tone, tone], 1).reshape(1, -1)
                chunk = av.AudioFrame.from_ndarray(samples, format=audio.format.name, layout="stereo")
                chunk.sample_rate, chunk.pts, chunk.time_base = sample_rate, done, Fraction(1, sample_rate)
                dst.mux(audio.encode(chunk))
                done += n
            if i + 1 == n_frames:
                break
        dst.mux(video.encode(None))
        if audio is not None:
            dst.mux(audio.encode(None))


def _samples(wave: np.ndarray, fmt: str) -> np.ndarray:
    """A wave in [-1, 1] in the sample type of an audio format (fltp, s16, u8, ...)."""
    kind = fmt.rstrip("p")
    if kind == "u8":
        return np.round((wave + 1) * 127.5).astype(np.uint8)
    if kind == "s16":
        return np.round(wave * 32767).astype(np.int16)
    if kind == "s32":
        return np.round(wave * 2147483647).astype(np.int32)
    return wave.astype(np.float32 if kind == "flt" else np.float64)
