"""``svcnet colorize`` as a library call: files in, an atomic output folder (PNG frames, mp4, metadata) out."""

from __future__ import annotations

import logging
import platform
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svcnet.data.atomic import remove_stale_temps
from svcnet.data.frames import read_rgb
from svcnet.data.shots import SHOTS_MODES, Shot, detect_shots, read_shot_list, shots_option, shots_to_json
from svcnet.data.video import DEFAULT_CODEC, DEFAULT_CRF, VideoSettings, fps_text, parse_fps
from svcnet.errors import InputError, SvcnetError
from svcnet.infer.carry import to_work_size
from svcnet.infer.inputs import Clip, FrameCursor, Scribbles, _check_scribble_size, open_clip, open_scribbles
from svcnet.infer.keyframes import (
    TIE_RULE,
    KeyframeCarrier,
    LightnessBuffer,
    backward_segments,
    carry_backward,
    save_image,
)
from svcnet.infer.models import Models, WeightOptions, load_models
from svcnet.infer.preprocess import compose_rgb, frame_input, frame_tensors, scribble_tensor
from svcnet.infer.streaming import FrameInput, InferenceConfig, StreamingColorizer
from svcnet.infer.writers import ClipWriter, WorkFolder, previous_metadata
from svcnet.ops.device import resolve_device
from svcnet.ops.lightness import DEFAULT_LIGHTNESS
from svcnet.ops.window import WINDOW

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColorizeRequest:
    """Everything a ``svcnet colorize`` run depends on (compared with a finished run's to skip a re-run)."""

    input: str
    scribbles: str
    method: str = "svcnet"
    flow: str = "auto"
    edge: str = "mirror"
    work_size: tuple[int, int] = (256, 448)
    lightness: str = DEFAULT_LIGHTNESS
    max_frames: int | None = None
    start_frame: int = 0  # the clip starts at this frame of the input (0-based); with max_frames, a range of frames
    fps: str | None = None  # exact output rate (25, 24000/1001); None: the input video's, or 25
    video: bool = True
    video_codec: str = DEFAULT_CODEC
    video_quality: int = DEFAULT_CRF
    shots: str = SHOTS_MODES[0]  # "auto", "none" or the path of a shot list

    def video_settings(self) -> VideoSettings:
        """How ``colorized.mp4`` is encoded (an error for an unknown codec or a quality out of range)."""
        return VideoSettings(self.video_codec, self.video_quality)


def _frame_inputs(clip: Clip, scribbles: Scribbles, config: InferenceConfig) -> Iterator[FrameInput]:
    """Today's single-clip inputs: per-frame scribbles read here, or None for the first-frame carrier (used by
    benchmarks and tests as the reference path)."""
    for i, (name, rgb) in enumerate(clip.frames()):
        scribble = None
        if scribbles.carried and i == 0 and clip.is_video:
            _check_scribble_size(scribbles.first, clip.size, config.work_size)
        if not scribbles.carried:
            path = scribbles.path_for(name)
            if clip.is_video:  # folders were checked up front
                _check_scribble_size(path, clip.size, config.work_size)
            scribble = scribbles.read(name)
        yield frame_input(rgb, scribble, config.work_size, transform=config.method == "svcnet", payload=(name, rgb))


def _sha256(path: Path) -> str:
    from svcnet.sources import sha256_file

    return sha256_file(path)


def _device_text(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return f"{dev} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _plan_shots(clip: Clip, mode: str, progress: bool) -> tuple[list[Shot], int | None]:
    """The shots of the clip and its frame count (None: a video with --shots none, known at the end)."""
    from tqdm import tqdm

    n = clip.count
    if mode == "none":
        return ([Shot(0, n)] if n is not None else []), n
    frames = (rgb for _, rgb in tqdm(clip.frames(), total=n, unit="frame", desc="shots", disable=not progress))
    if mode == "auto":
        shots = detect_shots(frames, clip.fps)
        return shots, (shots[-1].end if shots else 0)
    if n is None:
        n = sum(1 for _ in frames)  # a video's frame count: one decoding pass
    return read_shot_list(mode, clip.fps, n), n


def colorize_files(
    request: ColorizeRequest,
    out: Path,
    weights: WeightOptions = WeightOptions(),
    device: str = "auto",
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Colourise ``request.input`` with its scribbles into ``out``; returns the metadata path.

    Inputs and weights are checked before any network runs; the output folder appears only when complete. A re-run
    with the same request and weights finds the finished output and does nothing (``force`` redoes it); an
    interrupted run leaves its work folder (``.OUT.work``), from which the next run with the same request continues.
    """
    out = Path(out)
    config = InferenceConfig(
        work_size=tuple(request.work_size), method=request.method, edge=request.edge, lightness=request.lightness
    )
    previous = previous_metadata(out)  # first: a foreign, non-empty OUT is refused before anything is read
    clip, scribbles, keyframes = _open_inputs(request, config)
    dev = resolve_device(device)
    carry = clip.count is None or len(keyframes) < clip.count
    models, paths = load_models(config.method, request.flow, weights, dev, carry=carry)
    common = _provenance(request, paths, dev)
    work = WorkFolder(out)
    if not force and _already_done(previous, common, out):
        work.discard()  # left by a run killed between publishing OUT and cleaning up
        log.info("%s is already done (same inputs, options and weights); use --force to redo it", out)
        return out / "metadata.json"
    log.info(
        "colorize %s → %s: method %s, device %s, working size %dx%d, edge policy %s, shots %s",
        clip.source,
        out,
        config.method,
        dev,
        config.work_size[1],
        config.work_size[0],
        config.edge,
        request.shots,
    )
    remove_stale_temps(out)
    resumed = work.open(common, force=force)
    run = _FilmRun(clip, scribbles, keyframes, models, config, work, request, progress)
    try:
        run.prepare(resumed)
        run.colorize()
    except SvcnetError:
        work.discard()  # the input is wrong: nothing worth continuing
        raise
    run.writer.finish({**common, **_run_metadata(run, models, common["weights"])})
    work.publish()
    _log_done(run, out)
    return out / "metadata.json"


def _open_inputs(request: ColorizeRequest, config: InferenceConfig) -> tuple[Clip, Scribbles, dict[int, Path]]:
    """The clip, its scribbles and their keyframes, with every check that needs no network: frame counts for the
    method and edge policy, the shot option and a shot list's frames."""
    fps = parse_fps(request.fps) if request.fps is not None else None
    clip = open_clip(request.input, limit=request.max_frames, fps=fps, offset=request.start_frame)
    scribbles = open_scribbles(request.scribbles, clip, config.work_size, keyframes=True)
    shots_option(request.shots)
    request.video_settings()  # a bad codec or quality fails before any weights are read
    if clip.count is not None and config.method == "svcnet":
        if clip.count < 2:
            raise InputError(
                f"{clip.source} has 1 frame; SVCNet needs at least 2 (use --method cpnet for single images)"
            )
        if config.edge == "official" and clip.count < 7:
            raise InputError(
                f"{clip.source} has {clip.count} frames; --edge official needs at least 7 (use --edge mirror)"
            )
    if request.shots not in SHOTS_MODES and clip.count is not None:
        read_shot_list(request.shots, clip.fps, clip.count)  # a bad shot list fails before any weights are read
    return clip, scribbles, scribbles.keyframes(clip)


def _provenance(request: ColorizeRequest, paths: dict[str, Path], dev: torch.device) -> dict[str, Any]:
    """What makes a run's output what it is: the request (absolute paths), the weights (path and sha256), versions
    and device. The work folder and a finished output are reused only when this is unchanged."""
    from svcnet import __version__

    req = {
        **asdict(request),
        "work_size": list(request.work_size),
        "input": str(Path(request.input).resolve()),
        "scribbles": str(Path(request.scribbles).resolve()),
        "shots": request.shots if request.shots in SHOTS_MODES else str(Path(request.shots).resolve()),
    }
    return {
        "request": req,
        "svcnet_version": __version__,
        "torch": torch.__version__,
        "device": _device_text(dev),
        "weights": {name: {"path": str(p.resolve()), "sha256": _sha256(p)} for name, p in paths.items()},
    }


def _already_done(previous: dict | None, common: dict[str, Any], out: Path) -> bool:
    """Whether ``out`` holds the finished output of the same request and weights, every frame present."""
    return bool(
        previous
        and previous.get("request") == common["request"]
        and previous.get("weights") == common["weights"]
        and all((out / "frames" / f"{n}.png").is_file() for n in previous.get("frames", []))
    )


def _run_metadata(run: _FilmRun, models: Models, weights_used: dict[str, Any]) -> dict[str, Any]:
    """metadata.json's description of how the frames were made: flow, scribbles, shots, keyframes, policies, sizes."""
    request, config, clip = run.request, run.config, run.clip
    flow_info = None
    if models.flow is not None:
        flow_info = {
            "backend": models.flow.name,
            "convention": models.flow.convention,
            "weights": weights_used.get("pwcnet"),
        }
    n = len(run.writer.names)
    return {
        "flow": flow_info,
        "scribbles": {
            "path": str(Path(request.scribbles).resolve()),
            "mode": "one per frame" if run.every_frame_keyed else f"carried along the flow from keyframes ({TIE_RULE})",
        },
        "shots": run.shots_json(),
        "keyframes": sorted(k for k in run.keyframes if k < n),
        "edge_policy": config.edge if config.method == "svcnet" else None,
        "edge_policy_text": _edge_text(config),
        "work_size": list(config.work_size),
        "lightness": config.lightness,
        "frame_sources": run.sources,
        "input_size": list(clip.size) if clip.size else None,
        "fps": float(clip.fps),
        "fps_exact": fps_text(clip.fps),
    }


def _log_done(run: _FilmRun, out: Path) -> None:
    """The run's frame counts and timings, to the log only: metadata.json is part of a declared output and must not
    change between runs."""
    total = run.seconds
    log.info(
        "wrote %d frames (%d computed in this run) to %s in %.1f s (%.3f frames/s; seconds per stage: %s)",
        len(run.writer.names),
        run.computed,
        out,
        total,
        run.computed / total if total else 0.0,
        ", ".join(f"{k} {v:.3f}" for k, v in run.timings.items()),
    )


class _FilmRun:
    """The frames of a clip, shot by shot, into the work folder; continues where an interrupted run stopped.

    Work folder: ``shots.pt`` (the shots, found once), ``state.pt`` (after every frame: the shot and frame to do
    next, the frame sources so far, SSNet's last output), ``ref<shot>.pt`` (the shot's first-frame L8 and CPNet
    output, from which its reference is rebuilt), ``carry/<shot>/`` (scribbles carried backward from keyframes,
    computed before the shot, and the last scribbles carried forward).
    """

    def __init__(self, clip, scribbles, keyframes, models, config, work, request, progress) -> None:
        self.clip, self.scribbles, self.keyframes = clip, scribbles, keyframes
        self.models, self.config, self.work, self.request = models, config, work, request
        self.progress = progress
        self.writer = ClipWriter(
            work.out_dir,
            clip.fps,
            request.video,
            request.video_settings(),
            _audio_source(clip, request.fps),
            Fraction(clip.offset) / parse_fps(clip.fps),  # a range of the input: its audio from the range's start
        )
        self.shots: list[Shot] = []
        self.n: int | None = None
        self.sources: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.computed = 0
        self.seconds = 0.0
        self._state: dict | None = None

    @property
    def every_frame_keyed(self) -> bool:
        return self.n is not None and all(i in self.keyframes for i in range(self.n))

    def prepare(self, resumed: bool) -> None:
        """Shots (found now or by the interrupted run) and where to start."""
        planned = self.work.load("shots.pt") if resumed else None
        if planned is None:
            shots, n = _plan_shots(self.clip, self.request.shots, self.progress)
            planned = {"shots": [[s.start, s.end] for s in shots], "n": n}
            self.work.save("shots.pt", planned)
        self.shots = [Shot(a, b) for a, b in planned["shots"]]
        self.n = planned["n"]
        if self.n is not None and self.n < 2 and self.config.method == "svcnet":
            raise InputError(f"{self.clip.source} has {self.n} frame; SVCNet needs at least 2 (use --method cpnet)")
        if self.n is not None and self.clip.limit is None and any(k >= self.n for k in self.keyframes):
            k = max(self.keyframes)
            raise InputError(
                f"scribble count mismatch: {self.keyframes[k].name} is for frame {k} but "
                f"{self.clip.source} has {self.n} frames"
            )
        self._state = self.work.load("state.pt") if resumed else None
        if self._state is not None:
            done = self._state["done"]
            self.writer.resume([self.clip.name(i) for i in range(done)])
            self.sources = dict(self._state["sources"])
            log.info("continuing the interrupted run in %s at frame %d", self.work.root, done)
        no_keys = [i for i, s in enumerate(self.shots) if not self._shot_keys(s)]
        if no_keys and self.shots:
            log.warning(
                "%d of %d shots have no keyframe scribble and get none (frames %s)",
                len(no_keys),
                len(self.shots),
                ", ".join(f"{self.shots[i].start}-{self.shots[i].end - 1}" for i in no_keys[:10]),
            )

    def shots_json(self) -> list[dict]:
        shots = self.shots if self.shots and self.shots[-1].end is not None else [Shot(0, len(self.writer.names))]
        entries = shots_to_json(shots)
        for entry, shot in zip(entries, shots):
            entry["keyframes"] = self._shot_keys(shot)
        return entries

    def _shot_keys(self, shot: Shot) -> list[int]:
        """Keyframes of a shot, as frame numbers of the clip."""
        end = shot.end if shot.end is not None else float("inf")
        return sorted(k for k in self.keyframes if shot.start <= k < end)

    def _shot_config(self, shot: Shot) -> InferenceConfig:
        """A shot too short for SSNet's window (1 frame, or < 7 with the official edge policy) is CPNet's output."""
        cfg = self.config
        short = shot.end is not None and (len(shot) < 2 or (cfg.edge == "official" and len(shot) < WINDOW))
        if cfg.method == "svcnet" and len(self.shots) > 1 and short:
            return replace(cfg, method="cpnet")
        return cfg

    def _key_image(self, index: int) -> np.ndarray:
        path = self.keyframes[index]
        if self.clip.is_video:
            _check_scribble_size(path, self.clip.size, self.config.work_size)
        return read_rgb(path)

    def _carry_backward(self, si: int, shot: Shot, keys: list[int], cursor: FrameCursor) -> Path:
        """Scribbles carried backward from the shot's keyframes, written to the work folder (once)."""
        folder = self.work.root / "carry" / str(si) / "back"
        folder.mkdir(parents=True, exist_ok=True)
        dev = self.models.device
        for first, k in backward_segments(keys):
            done = folder / f"done-{k}"
            if done.is_file():
                continue
            buffer = LightnessBuffer(self.work.root / "carry" / str(si) / "l8")
            read = 0
            for i, (_, rgb) in enumerate(cursor.read(shot.start + first, shot.start + k + 1)):
                buffer.put(first + i, frame_tensors(rgb, self.config.work_size, transform=False)[0].to(dev))
                read += 1
            if read < k - first + 1:
                raise InputError(
                    f"scribble {self.keyframes[shot.start + k]} is for frame {shot.start + k} but "
                    f"{self.clip.source} has only {shot.start + first + read} frames"
                )
            image = to_work_size(self._key_image(shot.start + k), self.config.work_size)
            flow = self.models.flow.spawn()
            for t, carried in carry_backward(image, first, k, lambda i, b=buffer: b.get(i).to(dev), flow):
                save_image(folder / f"{t}.npy", carried)
            buffer.clear()
            done.touch()
        return folder

    def colorize(self) -> None:
        from tqdm import tqdm

        state = self._state or {"shot": 0, "next": 0}
        start_time = time.perf_counter()
        cursor, main = FrameCursor(self.clip), FrameCursor(self.clip)
        bar = tqdm(
            total=self.n, initial=len(self.writer.names), unit="frame", desc="colorize", disable=not self.progress
        )
        shots = self.shots or [Shot(0, None)]  # a video with --shots none: one shot, length known at the end
        try:
            for si in range(state["shot"], len(shots)):
                bar.set_postfix_str(f"shot {si + 1}/{len(shots)}")
                self._colorize_shot(si, shots[si], state["next"] if si == state["shot"] else 0, cursor, main, bar)
        finally:
            bar.close()
        if not self.shots:
            self.n = len(self.writer.names)
            self.shots = [Shot(0, self.n)]
        self.seconds = time.perf_counter() - start_time

    def _colorize_shot(self, si: int, shot: Shot, start: int, cursor: FrameCursor, main: FrameCursor, bar) -> None:
        cfg = self._shot_config(shot)
        keys = [k - shot.start for k in self._shot_keys(shot)]
        work_size = cfg.work_size
        if self.models.flow is not None:
            self.models.flow.reset()
        back = None
        if backward_segments(keys):
            back = self._carry_backward(si, shot, keys, cursor)
        forward = self.work.root / "carry" / str(si) / "fwd"
        forward.mkdir(parents=True, exist_ok=True)
        carrier = KeyframeCarrier(
            keys,
            lambda k: self._key_image(shot.start + k),
            work_size,
            scribble_tensor,
            backward=(lambda i: np.load(back / f"{i}.npy")) if back is not None else None,
            store=forward,
        )
        colorizer = StreamingColorizer(self.models, cfg, carrier)
        ref_name = f"ref{si}.pt"
        if start:
            ref = self.work.load(ref_name)
            seed = (ref["l8"], ref["ab"]) if ref is not None else None
            colorizer.restore(seed, self._state.get("prev_out") if self._state else None)
        first = colorizer.first_input(start)
        stop = shot.end

        def inputs() -> Iterator[FrameInput]:
            for name, rgb in main.read(shot.start + first, stop):
                yield frame_input(rgb, None, work_size, transform=cfg.method == "svcnet", payload=(name, rgb))

        for res in colorizer.run(inputs(), start=start):
            if res.index == 0 and colorizer.reference_seed is not None:
                l8, ab = colorizer.reference_seed
                self.work.save(ref_name, {"l8": l8.cpu(), "ab": ab.cpu()})
            name, rgb = res.payload
            t0 = time.perf_counter()
            self.writer.add(name, compose_rgb(res.ab, rgb, cfg.lightness))
            colorizer.timings["compose_write"] = colorizer.timings.get("compose_write", 0.0) + time.perf_counter() - t0
            self.sources[res.source] = self.sources.get(res.source, 0) + 1
            prev = colorizer.recurrent_state
            self.work.save(
                "state.pt",
                {
                    "shot": si,
                    "next": res.index + 1,
                    "done": len(self.writer.names),
                    "sources": self.sources,
                    "prev_out": prev.cpu() if prev is not None else None,
                },
            )
            self.computed += 1
            bar.update(1)
        for k, v in colorizer.timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        done = len(self.writer.names)
        self.work.save("state.pt", {"shot": si + 1, "next": 0, "done": done, "sources": self.sources, "prev_out": None})
        self._state = None
        shutil.rmtree(self.work.root / "carry" / str(si), ignore_errors=True)
        (self.work.root / ref_name).unlink(missing_ok=True)


def _edge_text(config: InferenceConfig) -> str:
    if config.method == "cpnet":
        return "every frame is the CPNet output"
    if config.edge == "official":
        return "first and last 3 frames are CPNet outputs (official); the others SSNet"
    return (
        "every frame refined by SSNet; neighbours beyond the clip mirrored into it; the recurrent input starts "
        "at frame 0 and restarts at frame 3 as the official first window does (clips >= 7 frames)"
    )


def _audio_source(clip: Clip, fps_option: str | None) -> Path | None:
    """The video whose audio the output copies: the input video, unless ``--fps`` gives it another rate."""
    if not clip.is_video:
        return None
    from svcnet.data.frames import video_fps

    fps = parse_fps(fps_option) if fps_option is not None else None
    if fps is not None and fps != video_fps(clip.source):
        log.warning(
            "--fps %s is not the rate of %s: its audio is left out (it would not stay in sync)", fps, clip.source
        )
        return None
    return clip.source
