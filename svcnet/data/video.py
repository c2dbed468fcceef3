"""Video files with PyAV: exact frame rate, frame count and audio of an input; deterministic encoding of PNG frames.

* The frame rate is a :class:`fractions.Fraction` (``24000/1001``, not 23.976), so the output's average rate and
  per-frame timestamps are the input's exactly. Frames are written at a constant rate: frame ``i`` at ``i / fps``.
* The first audio stream of the input is copied packet by packet (remuxed, not re-encoded). The container is mp4 when
  it takes the video codec and the audio codec (AAC, MP3, Opus, FLAC, AC-3, ALAC, PCM, ...), otherwise Matroska
  (``.mkv``, which stores times in milliseconds: frame times there are rounded to the millisecond); an audio codec
  neither takes is left out, which the returned description says.
* Encoding runs the encoder and the pixel-format conversion on one thread (x264's choices depend on its thread count)
  and the muxer writes no random or version-dependent fields (``fflags +bitexact``). On a CPU with AVX-512, x264 is
  limited to AVX2 (:func:`x264_params`): its AVX-512 macroblock-tree code makes choices that depend on what was in
  memory before, so the same frames gave other bytes from one encode to the next.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from svcnet.data.atomic import atomic_path
from svcnet.errors import InputError

log = logging.getLogger(__name__)

# encoder -> (codec name in the container, pixel format it encodes, lossless whatever the crf)
VIDEO_CODECS: dict[str, tuple[str, str, bool]] = {
    "libx264": ("h264", "yuv420p", False),
    "libx264rgb": ("h264", "rgb24", False),
    "ffv1": ("ffv1", "bgr0", True),
}
VIDEO_CODEC_HELP = (
    "libx264 (H.264 4:2:0, plays everywhere) | libx264rgb (H.264 in RGB; --video-quality 0 is lossless) | "
    "ffv1 (lossless)"
)
DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 18
CONTAINERS = {".mp4": "mp4", ".mkv": "matroska"}


@dataclass(frozen=True)
class VideoSettings:
    """How the output video is encoded: the codec (one of :data:`VIDEO_CODECS`) and x264's constant rate factor
    (0-51, lower is better; ignored by the lossless ffv1)."""

    codec: str = DEFAULT_CODEC
    crf: int = DEFAULT_CRF

    def __post_init__(self) -> None:
        if self.codec not in VIDEO_CODECS:
            raise InputError(f"unknown video codec {self.codec!r}; choose {', '.join(VIDEO_CODECS)}")
        if not 0 <= self.crf <= 51:
            raise InputError(f"video quality (x264 crf) must be 0-51, got {self.crf}")

    @property
    def pixel_format(self) -> str:
        return VIDEO_CODECS[self.codec][1]

    @property
    def lossless(self) -> bool:
        return VIDEO_CODECS[self.codec][2] or (self.codec == "libx264rgb" and self.crf == 0)

    def describe(self) -> dict:
        uses_crf = self.codec.startswith("libx264")
        return {
            "codec": self.codec,
            "crf": self.crf if uses_crf else None,
            "pixel_format": self.pixel_format,
            "lossless": self.lossless,
        }


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    duration: float  # seconds


@dataclass(frozen=True)
class VideoInfo:
    fps: Fraction
    frames: int
    width: int
    height: int
    duration: float  # seconds: frames / fps
    audio: AudioInfo | None
    start: Fraction = Fraction(0)  # seconds: time of the first video frame (the audio is kept in sync with it)


def parse_fps(value: str | float | int | Fraction) -> Fraction:
    """A frame rate as an exact fraction: ``"24000/1001"``, ``"25"``, ``"23.976"`` (= 2997/125, as written) or a
    number; a float is read as the nearest fraction with a denominator up to 1001 (24000/1001 for 23.976023976...)."""
    try:
        if isinstance(value, Fraction):
            fps = value
        elif isinstance(value, float):
            fps = Fraction(value).limit_denominator(1001)
        else:
            fps = Fraction(str(value).strip().replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        fps = None
    if fps is None or fps <= 0:
        raise InputError(f"frame rate must be a positive number or fraction (25, 24000/1001), got {value!r}")
    return fps


def fps_text(fps: Fraction | float | str) -> str:
    """An exact rate as text: ``24000/1001``, ``25``."""
    return str(parse_fps(fps))


def _open(path: str | os.PathLike):
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(f"video not found: {path}")
    try:
        return av.open(str(path))
    except Exception as exc:  # PyAV raises many error types for unreadable files
        reason = getattr(exc, "strerror", None) or str(exc)  # FFmpeg's words without its errno and the path again
        raise InputError(f"cannot read video {path}: {reason}") from exc


def _video_stream(container, path):
    if not container.streams.video:
        raise InputError(f"{path} has no video stream")
    return container.streams.video[0]


def _rate(stream) -> Fraction | None:
    """The nominal rate when the stream's timestamps agree with it (constant rate), else the average rate."""
    average, base = stream.average_rate, stream.base_rate or stream.guessed_rate
    if base and (not average or abs(Fraction(average) / Fraction(base) - 1) < Fraction(1, 1000)):
        return Fraction(base)
    return Fraction(average) if average else None


def _start(stream) -> Fraction:
    return Fraction(stream.start_time) * stream.time_base if stream.start_time is not None else Fraction(0)


def _audio_info(container) -> AudioInfo | None:
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    if stream.duration is not None:
        duration = float(stream.duration * stream.time_base)
    else:  # e.g. Matroska keeps no per-stream duration
        duration = float(sum(p.duration or 0 for p in container.demux(stream)) * stream.time_base)
    ctx = stream.codec_context
    return AudioInfo(stream.codec_context.name, ctx.sample_rate, ctx.channels, duration)


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, frame count, size and audio of a video file (from the container; packets are counted when the
    container does not store the frame count). InputError when it is unreadable or has no frame rate."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        fps = _rate(stream)
        if fps is None:
            raise InputError(f"{path} does not say its frame rate; give it with --fps")
        frames = stream.frames
        start = _start(stream)
        width, height = stream.codec_context.width, stream.codec_context.height
    if not frames:
        with _open(path) as container:
            frames = sum(1 for p in container.demux(_video_stream(container, path)) if p.size)
    with _open(path) as container:
        audio = _audio_info(container)
    return VideoInfo(fps, frames, width, height, float(frames / fps), audio, start)


def iter_frames(path: str | os.PathLike, start: int = 0) -> Iterator[np.ndarray]:
    """Decode a video frame by frame as uint8 RGB (H×W×3), skipping the first ``start`` frames (decoded, not
    converted: the frame count is exact whatever the keyframe layout)."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"  # decoding is exact whatever the threads
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i >= start:
                    yield np.ascontiguousarray(frame.to_ndarray(format="rgb24", threads=1))
        except Exception as exc:  # PyAV raises many error types for broken streams
            raise InputError(f"cannot decode video {path}: {exc}") from exc


def _fits(fmt: str, codecs: Sequence[str]) -> bool:
    import av

    with av.open(io.BytesIO(), "w", format=fmt) as container:
        return all(c in container.supported_codecs for c in codecs)


def output_suffix(settings: VideoSettings, audio_codec: str | None = None) -> str:
    """``.mp4`` when mp4 takes the video codec (and the audio codec, if any), else ``.mkv``."""
    codecs = [VIDEO_CODECS[settings.codec][0]] + ([audio_codec] if audio_codec else [])
    return ".mp4" if _fits("mp4", codecs) else ".mkv"


def _even(img: np.ndarray) -> np.ndarray:
    """Odd sizes padded by one edge pixel (4:2:0 chroma needs even sizes)."""
    h, w = img.shape[:2]
    return np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if (h % 2 or w % 2) else img


class _AudioCopy:
    """Packets of the first audio stream of a file, copied into an output stream in time order."""

    def __init__(self, path: Path, video_start: Fraction, skip: Fraction = Fraction(0)) -> None:
        self.container = _open(path)
        self.stream = self.container.streams.audio[0]
        self.codec = self.stream.codec_context.name
        # keep the audio in sync with the first frame (after ``skip`` seconds of the input's video)
        self._shift = round((video_start + skip) / self.stream.time_base)
        self._packets = (p for p in self.container.demux(self.stream) if p.size and p.dts is not None)
        self._next = next(self._packets, None)
        while skip and self._next is not None and self._next.pts < self._shift:  # audio before the first frame
            self._next = next(self._packets, None)
        self.out = None
        self.copied = 0

    def add_to(self, container) -> None:
        self.out = container.add_stream_from_template(self.stream)

    def mux_until(self, container, end: Fraction) -> None:
        """Mux the packets that start before ``end`` seconds (output time)."""
        tb = self.stream.time_base
        while self._next is not None and (self._next.pts - self._shift) * tb < end:
            packet = self._next
            packet.pts -= self._shift
            packet.dts -= self._shift
            packet.stream = self.out
            container.mux(packet)
            self.copied += 1
            self._next = next(self._packets, None)

    def close(self) -> None:
        self.container.close()


def encode_video(
    frame_paths: Sequence[Path],
    out: str | os.PathLike,
    fps: Fraction,
    settings: VideoSettings = VideoSettings(),
    audio_from: str | os.PathLike | None = None,
    audio_skip: Fraction = Fraction(0),
) -> dict:
    """Encode the image files ``frame_paths`` (in order) into ``out``: :func:`encode_frames` on their pixels."""
    from svcnet.data.frames import read_rgb

    if not frame_paths:
        raise InputError(f"no frames to encode into {out}")
    return encode_frames((read_rgb(p) for p in frame_paths), out, fps, settings, audio_from, audio_skip)


def encode_frames(
    frames: Iterable[np.ndarray],
    out: str | os.PathLike,
    fps: Fraction | float | str,
    settings: VideoSettings = VideoSettings(),
    audio_from: str | os.PathLike | None = None,
    audio_skip: Fraction = Fraction(0),
) -> dict:
    """Encode uint8 RGB frames (one size) into ``out`` (``.mp4`` or ``.mkv``, see :func:`output_suffix`), frame ``i``
    at ``i / fps`` exactly, copying the first audio stream of ``audio_from`` when it has one (its packets that start
    before the last frame ends). ``audio_skip``: the frames start that many seconds into ``audio_from``'s video (a
    range of its frames); its audio packets that start before are left out, the others keep their place relative to
    the frames. Atomic; returns a description of the result for metadata."""
    import av

    out = Path(out)
    fps = parse_fps(fps)
    if out.suffix not in CONTAINERS:
        raise InputError(f"video output {out} must end in {' or '.join(CONTAINERS)}")
    audio, note = _audio_source(audio_from, CONTAINERS[out.suffix], Fraction(audio_skip))
    pix_fmt = settings.pixel_format
    time_base = 1 / fps
    count, size = 0, None
    try:
        with (
            atomic_path(out, suffix=out.suffix) as tmp,
            av.open(str(tmp), "w", format=CONTAINERS[out.suffix], container_options={"fflags": "+bitexact"}) as dst,
        ):
            stream = dst.add_stream(settings.codec, rate=fps)
            stream.codec_context.time_base = time_base
            stream.pix_fmt = pix_fmt
            stream.thread_count = 1  # x264's output depends on its thread count; one thread is the same everywhere
            if settings.codec.startswith("libx264"):
                stream.options = {"crf": str(settings.crf), "preset": "medium", **x264_params()}
            if audio is not None:
                audio.add_to(dst)
            for img in frames:
                if pix_fmt == "yuv420p":
                    img = _even(img)
                if size is None:
                    size = img.shape[:2]
                    stream.height, stream.width = size
                elif img.shape[:2] != size:
                    raise InputError(
                        f"frame {count} is {img.shape[1]}x{img.shape[0]} but the first is {size[1]}x{size[0]}; "
                        f"all frames of a video must have one size"
                    )
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                frame = frame.reformat(format=pix_fmt, threads=1)
                frame.pts, frame.time_base = count, time_base
                dst.mux(stream.encode(frame))
                count += 1
                if audio is not None:
                    audio.mux_until(dst, count / fps)
            if size is None:
                raise InputError(f"no frames to encode into {out}")
            dst.mux(stream.encode(None))
    finally:
        if audio is not None:
            audio.close()
    return {
        "file": out.name,
        **settings.describe(),
        "fps": fps_text(fps),
        "fps_float": float(fps),
        "frames": count,
        "audio": None if audio is None else {"codec": audio.codec, "copied_packets": audio.copied},
        **({"audio_note": note} if note else {}),
    }


def _has_avx512() -> bool:
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy's CPU table moved: read the kernel's, where there is one
        try:
            return " avx512f" in Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    return bool(__cpu_features__.get("AVX512F"))


def x264_params(avx512: bool | None = None) -> dict[str, str]:
    """The ``x264-params`` option that makes x264's output a function of its input: on a CPU with AVX-512 (``avx512``,
    detected when None) the instruction set is capped at AVX2, which is as fast there; elsewhere nothing changes."""
    if _has_avx512() if avx512 is None else avx512:
        return {"x264-params": "asm=AVX2"}
    return {}


def _audio_source(
    audio_from: str | os.PathLike | None, fmt: str, skip: Fraction = Fraction(0)
) -> tuple[_AudioCopy | None, str | None]:
    """The audio stream to copy (None when there is none) and a note when it cannot go into the container."""
    if audio_from is None:
        return None, None
    info = probe_video(audio_from)
    if info.audio is None:
        return None, None
    if not _fits(fmt, [info.audio.codec]):
        note = f"audio not copied: the {fmt} container does not take {info.audio.codec} audio"
        log.warning("%s (%s)", note, audio_from)
        return None, note
    return _AudioCopy(Path(audio_from), info.start, skip), None
