"""A multi-shot test film made from the embedded demo clips, with its cuts, sound and keyframe scribbles known.

``build_film(dest)`` writes:

* ``film.mp4``: the grayscale film (H.264, yuv420p) at ``fps`` (24000/1001 by default) with an AAC sound track of
  exactly the film's duration, one tone per shot (``TONES_HZ``);
* ``frames/00000.png ...``: the same grayscale frames, lossless (the input as a frame folder);
* ``gt/00000.png ...``: the colour frames (ground truth);
* ``scribbles/<frame>.png``: a keyframe scribble for the first frame of each shot only (official format, black = no
  scribble; 40 ground-truth colour squares drawn by svcnet.scribbles.generate);
* ``cuts.txt``: the shot list (one cut per line, frame numbers) and ``film.json``: fps, frame count, cuts, shots.

Shots alternate between the three clips and each clip comes back later in the film, so a cut can return to a scene
that was already seen. Used by tests/test_shots.py and bench/film.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from svcnet.data.frames import list_frames, read_rgb, write_png
from svcnet.data.shots import Shot, shots_from_cuts, shots_to_json
from svcnet.scribbles.generate import EvalScribbleSettings, generate_scribbles

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"
FPS = Fraction(24000, 1001)
SAMPLE_RATE = 48000
# (clip, first frame, end frame): six shots of 15-35 frames; 150 frames in all
SHOTS = (
    ("blackswan", 0, 25),
    ("dog", 0, 30),
    ("car-shadow", 0, 20),
    ("blackswan", 25, 50),
    ("car-shadow", 20, 40),
    ("dog", 30, 60),
)
TONES_HZ = (220.0, 277.2, 329.6, 440.0, 554.4, 659.3)


@dataclasses.dataclass(frozen=True)
class Film:
    """Where build_film put the film and what it knows about it."""

    root: Path
    fps: Fraction
    n_frames: int
    cuts: list[int]
    shots: list[Shot]

    @property
    def video(self) -> Path:
        return self.root / "film.mp4"

    @property
    def frames(self) -> Path:
        return self.root / "frames"

    @property
    def gt(self) -> Path:
        return self.root / "gt"

    @property
    def scribbles(self) -> Path:
        return self.root / "scribbles"

    @property
    def shot_list(self) -> Path:
        return self.root / "cuts.txt"


def film_shots(shots: tuple = SHOTS, frames_per_shot: int | None = None) -> tuple[list[np.ndarray], list[int]]:
    """The colour frames of the film and its cut positions; ``frames_per_shot`` shortens every shot."""
    frames: list[np.ndarray] = []
    cuts: list[int] = []
    for clip, start, end in shots:
        if frames:
            cuts.append(len(frames))
        if frames_per_shot is not None:
            end = min(end, start + frames_per_shot)
        frames += [read_rgb(p) for p in list_frames(DEMO / clip / "frames")[start:end]]
    return frames, cuts


def gray(rgb: np.ndarray) -> np.ndarray:
    """The frame's BT.601 luma in all three channels: what a black-and-white film gives."""
    return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


def tone_track(shots: list[Shot], fps: Fraction, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 samples, one sine tone per shot (``TONES_HZ`` in turn), exactly as long as the film."""
    bounds = [round(Fraction(s.start) / fps * sample_rate) for s in shots] + [
        round(Fraction(shots[-1].end) / fps * sample_rate)
    ]
    parts = []
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        t = np.arange(a, b, dtype=np.float64) / sample_rate
        parts.append(0.3 * np.sin(2 * np.pi * TONES_HZ[k % len(TONES_HZ)] * t))
    return np.concatenate(parts).astype(np.float32)


def write_film_mp4(path: Path, frames: list[np.ndarray], fps: Fraction, audio: np.ndarray | None) -> None:
    """H.264 video at exactly ``fps`` (one encoder thread: same bytes on every machine) + AAC sound, with PyAV."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.thread_count = 1
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = 1 / fps
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            chunk = 1024
            for start in range(0, len(audio), chunk):
                samples = audio[None, start : start + chunk]
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="flt", layout="mono")
                frame.sample_rate = SAMPLE_RATE
                frame.pts = start
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))


def keyframe_scribbles(frames: list[np.ndarray], shots: list[Shot], points: int = 40) -> dict[int, np.ndarray]:
    """A scribble image (448×256, ground-truth colours) for the first frame of each shot, by frame index."""
    settings = EvalScribbleSettings(points=points)
    return {s.start: generate_scribbles([frames[s.start]], settings, flow=None).images[0] for s in shots}


def build_film(
    dest: str | Path,
    fps: Fraction = FPS,
    shots: tuple = SHOTS,
    frames_per_shot: int | None = None,
    video: bool = True,
    audio: bool = True,
) -> Film:
    """Write the test film into ``dest`` (see the module docstring) and describe it."""
    root = Path(dest)
    colour, cuts = film_shots(shots, frames_per_shot)
    film_shot_list = shots_from_cuts(cuts, len(colour))
    for sub in ("frames", "gt", "scribbles"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    grays = [gray(img) for img in colour]
    for i, (g, c) in enumerate(zip(grays, colour)):
        write_png(root / "frames" / f"{i:05d}.png", g)
        write_png(root / "gt" / f"{i:05d}.png", c)
    for index, img in keyframe_scribbles(colour, film_shot_list).items():
        write_png(root / "scribbles" / f"{index:05d}.png", img)
    if video:
        write_film_mp4(root / "film.mp4", grays, fps, tone_track(film_shot_list, fps) if audio else None)
    (root / "cuts.txt").write_text("# cut positions (first frame of each new shot)\n" + "".join(f"{c}\n" for c in cuts))
    record = {
        "fps": str(fps),
        "frames": len(colour),
        "cuts": cuts,
        "shots": shots_to_json(film_shot_list),
        "clips": [list(s) for s in shots],
        "tones_hz": list(TONES_HZ[: len(film_shot_list)]),
    }
    (root / "film.json").write_text(json.dumps(record, indent=2) + "\n")
    return Film(root, fps, len(colour), cuts, film_shot_list)
