"""Frame folders and video files: numeric frame order, robust decoding to uint8 RGB, lossless atomic writes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from svcnet.data.atomic import atomic_path
from svcnet.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")

_NUM = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers numerically: ``2.jpg`` < ``10.jpg``, ``f9`` < ``f10``."""
    return tuple((0, int(tok), tok) if tok.isdigit() else (1, 0, tok) for tok in _NUM.split(name) if tok)


def list_frames(folder: str | os.PathLike, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files directly in ``folder``, in numeric order whatever the file system returns.

    Hidden files and temporary files are ignored. Raises InputError when the folder is missing or has no frames.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"frame folder not found: {folder}")
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes]
    if not files:
        raise InputError(f"no image frames ({', '.join(suffixes)}) in {folder}")
    return sorted(files, key=lambda p: natural_key(p.name))


def to_uint8_rgb(img: np.ndarray, source: str = "image") -> np.ndarray:
    """Convert a decoded OpenCV image (gray, BGR, BGRA; 8 or 16 bit) to contiguous uint8 RGB H×W×3."""
    if img.dtype == np.uint16:
        img = np.round(img.astype(np.float32) / 257.0).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise InputError(f"{source}: unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        # Composite onto black: a transparent pixel carries no colour (and no scribble).
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        img = np.round(img[:, :, :3].astype(np.float32) * alpha).astype(np.uint8)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        raise InputError(f"{source}: unsupported image layout {img.shape}")
    return np.ascontiguousarray(img)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) read from the image header only; InputError when the file is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"unreadable image (cannot read image header: {exc.__class__.__name__}): {path}") from None
    if width <= 0 or height <= 0:
        raise InputError(f"unreadable image (cannot read image header: no pixels): {path}")
    return height, width


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 RGB (H×W×3). Grayscale, RGBA and 16-bit files are converted."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"frame not found: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise InputError(f"cannot decode image (corrupt or unsupported format): {path}")
    return to_uint8_rgb(img, str(path))


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a single-channel map (mask or saliency) as uint8 H×W."""
    path = Path(path)
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else np.zeros(0, np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if img is None:
        raise InputError(f"cannot read mask/saliency map: {path}")
    return img


def encode_png(img: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 RGB (H×W×3) or gray (H×W) image."""
    arr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    ok, buf = cv2.imencode(".png", arr)
    if not ok:
        raise InputError(f"PNG encoding failed for an array of shape {img.shape}")
    return buf.tobytes()


def decode_png(data: bytes, gray: bool = False) -> np.ndarray:
    """Inverse of :func:`encode_png`."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None:
        raise InputError("corrupt PNG data")
    return img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def write_png(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write a uint8 RGB or gray image losslessly and atomically."""
    with atomic_path(path, suffix=".png") as tmp:
        tmp.write_bytes(encode_png(img))


def is_video_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def iter_video_frames(path: str | os.PathLike, start: int = 0) -> Iterator[np.ndarray]:
    """Decode a video file frame by frame as uint8 RGB (:func:`svcnet.data.video.iter_frames`)."""
    from svcnet.data.video import iter_frames

    return iter_frames(path, start)


def video_fps(path: str | os.PathLike) -> Fraction:
    """The exact frame rate of a video file, e.g. 24000/1001 (:func:`svcnet.data.video.probe_video`)."""
    from svcnet.data.video import probe_video

    return probe_video(path).fps


def write_mp4(
    path: str | os.PathLike, frames: Sequence[np.ndarray] | Iterator[np.ndarray], fps: float | Fraction = 25
) -> None:
    """Encode uint8 RGB frames as an H.264 mp4 with the default settings of :func:`svcnet.data.video.encode_frames`
    (deterministic; odd sizes padded by one edge pixel), atomically."""
    from svcnet.data.video import encode_frames

    encode_frames(frames, path, fps)
