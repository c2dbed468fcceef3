"""Inference speed and memory: streaming SVCNet (``svcnet.infer``) vs the official windowed procedure.

Both run in one process on the same random weights (seed 0), the same frames and scribbles (a synthetic moving
texture written as PNG files, scribbles in the official 448×256 format), and produce the same RGB frames:

* ``official``: :func:`svcnet.infer.official_loop.official_windowed_loop` — what ``SSNet/test.py`` does: per window
  re-read and preprocess the 7 frames and scribbles, CPNet on all 7, 6 PWC-Net flows one pair at a time, SSNet with
  all three SR branches (×2, ×4, ×8) of which only ×2 is used; the networks built as the official code builds them
  (a separate ``ZeroPad2d`` before each zero-padded convolution).
* ``streaming``: :class:`svcnet.infer.streaming.StreamingColorizer` with the official edge policy (so both compute
  the same results; the max abs difference is printed): every file read once, CPNet once per frame, each flow
  once (batched on CUDA), SSNet with the ×2 SR branch only, zero padding inside the convolutions.

Frames/s are given for the whole clip and for the steady state (median time between two SSNet frames). Peak memory
is measured for the streaming loop on a 30- and a 300-frame clip, each in its own process (CUDA: max allocated;
CPU: the largest resident set size sampled after every frame of the loop, since the process's peak RSS is reached
while the models are built), at a smaller working size by default (``--memory-size``) so that 300 frames run in
minutes on a CPU.

Usage: ``python bench/inference.py [--device auto|cpu|cuda] [--frames 16] [--threads 2] [--inputs 256x448,480x854]
[--memory-frames 30,300] [--memory-size 64x128] [--skip-memory]``. Input sizes are H×W (854×480 video = 480x854).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = (256, 448)


def _size(text: str) -> tuple[int, int]:
    h, w = text.lower().split("x")
    return int(h), int(w)


def synthetic_frame(i: int, size: tuple[int, int], seed: int = 0):
    """Frame i of a smooth random texture panning by (3, 1) px per frame, gray content as uint8 RGB."""
    import cv2
    import numpy as np

    h, w = size
    rng = np.random.default_rng(seed)
    scene = cv2.GaussianBlur(rng.uniform(0, 255, (h + 64, w + 1024)).astype(np.float32), (0, 0), 3.0)
    scene = cv2.normalize(scene, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    x, y = (3 * i) % 1024, (i % 32)
    g = scene[y : y + h, x : x + w]
    return np.repeat(g[:, :, None], 3, 2)


def synthetic_scribble(i: int, work: tuple[int, int] = WORK, points: int = 40):
    """Official-format scribble: black with ``points`` coloured 4×4 squares."""
    import numpy as np

    rng = np.random.default_rng(1000 + i)
    img = np.zeros((*work, 3), np.uint8)
    for _ in range(points):
        y, x = rng.integers(0, work[0] - 4), rng.integers(0, work[1] - 4)
        img[y : y + 4, x : x + 4] = rng.integers(0, 256, 3)
    return img


def build_models(device, seed: int = 0):
    """Random networks with shared weights, as ``((cpnet, pwc, ssnet) official, (cpnet, pwc, ssnet) streaming)``:
    the official ones padded as the official code pads and SSNet with all SR branches, ours with the ×2 branch."""
    import copy

    import torch

    from svcnet.infer.models import load_cpnet, load_pwcnet, load_ssnet
    from svcnet.models.blocks import official_zero_padding

    torch.manual_seed(seed)
    cpnet = load_cpnet(None, device)
    pwc = load_pwcnet(None, device)
    ssnet_official = load_ssnet(None, device, sr_scales=(2, 4, 8))
    ssnet_stream = load_ssnet(None, device, sr_scales=(2,))
    ssnet_stream.load_state_dict(ssnet_official.state_dict(), strict=True)
    official = (official_zero_padding(copy.deepcopy(cpnet)), pwc, official_zero_padding(ssnet_official))
    return official, (cpnet, pwc, ssnet_stream)


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(results, device):
    """(list of (index, source, ab, rgb), per-frame yield times) from an iterator of (FrameResult, rgb)."""
    out, stamps = [], []
    start = time.perf_counter()
    for res, rgb in results:
        _sync(device)
        stamps.append((time.perf_counter() - start, res.source))
        out.append((res.index, res.ab.float().cpu(), rgb))
    return out, stamps


def _steady(stamps) -> float:
    """Median seconds between consecutive SSNet frames."""
    times = [t for t, s in stamps if s == "ssnet"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return statistics.median(gaps) if gaps else float("nan")


def speed(input_size, frames: int, device, models) -> dict:
    """Time the official and the streaming loop on the same clip; check they agree."""
    from svcnet.data.frames import write_png
    from svcnet.infer.flow import pwc_backend
    from svcnet.infer.inputs import open_clip, open_scribbles
    from svcnet.infer.official_loop import file_loader, official_windowed_loop
    from svcnet.infer.preprocess import compose_rgb
    from svcnet.infer.run import _frame_inputs
    from svcnet.infer.streaming import InferenceConfig, Models, StreamingColorizer

    (cpnet_official, pwc, ssnet_official), (cpnet, _, ssnet_stream) = models
    with tempfile.TemporaryDirectory() as tmp:
        fdir, sdir = Path(tmp) / "frames", Path(tmp) / "scribbles"
        for i in range(frames):
            write_png(fdir / f"{i:05d}.png", synthetic_frame(i, input_size))
            write_png(sdir / f"{i:05d}_256p.png", synthetic_scribble(i))
        fpaths = sorted(fdir.iterdir())
        spaths = sorted(sdir.iterdir())

        def official():
            backend = pwc_backend(pwc)
            for res in official_windowed_loop(
                file_loader(fpaths, spaths, WORK),
                frames,
                cpnet_official,
                ssnet_official,
                backend.official_pair_flow,
                device=device,
            ):
                yield res, compose_rgb(res.ab, res.payload)

        def streaming():
            config = InferenceConfig(work_size=WORK, edge="official")
            clip = open_clip(fdir)
            scribbles = open_scribbles(sdir, clip, WORK)
            colorizer = StreamingColorizer(Models(cpnet, ssnet_stream, pwc_backend(pwc), device), config)
            for res in colorizer.run(_frame_inputs(clip, scribbles, config)):
                yield res, compose_rgb(res.ab, res.payload[1])

        _warmup(models, device)
        t0 = time.perf_counter()
        off, off_stamps = _timed(official(), device)
        t_off = time.perf_counter() - t0
        t0 = time.perf_counter()
        st, st_stamps = _timed(streaming(), device)
        t_st = time.perf_counter() - t0
    assert [i for i, _, _ in off] == [i for i, _, _ in st] == list(range(frames))
    max_ab = max(float((a - b).abs().max()) for (_, a, _), (_, b, _) in zip(off, st))
    max_rgb = max(int(abs(a.astype(int) - b.astype(int)).max()) for (_, _, a), (_, _, b) in zip(off, st))
    return {
        "input": f"{input_size[1]}x{input_size[0]}",
        "frames": frames,
        "official_fps": frames / t_off,
        "streaming_fps": frames / t_st,
        "speedup": t_off / t_st,
        "official_steady_s_per_frame": _steady(off_stamps),
        "streaming_steady_s_per_frame": _steady(st_stamps),
        "steady_speedup": _steady(off_stamps) / _steady(st_stamps),
        "max_abs_diff_ab": max_ab,
        "max_abs_diff_rgb_uint8": max_rgb,
    }


def _warmup(models, device) -> None:
    """One small forward of every network so that lazy initialisation is not timed."""
    import torch

    from svcnet.models.pwcnet import pwc_estimate

    (cpnet_official, pwc, _), (cpnet, _, _) = models
    with torch.no_grad():
        x = torch.rand(1, 1, *WORK, device=device)
        for net in (cpnet_official, cpnet):
            net(x, torch.rand(1, 2, *WORK, device=device))
        pwc_estimate(pwc, x.expand(-1, 3, -1, -1), x.expand(-1, 3, -1, -1))
    _sync(device)


def memory_child(frames: int, work: tuple[int, int], device_name: str, threads: int) -> None:
    """Run the streaming loop on ``frames`` synthetic in-memory frames; print peak memory as JSON."""
    import resource

    import torch

    from svcnet.infer.flow import pwc_backend
    from svcnet.infer.preprocess import compose_rgb, frame_input
    from svcnet.infer.streaming import InferenceConfig, Models, StreamingColorizer

    torch.set_num_threads(threads)
    device = torch.device(device_name)
    cpnet, pwc, ssnet = build_models(device)[1]
    config = InferenceConfig(work_size=work, edge="mirror")

    def inputs():
        for i in range(frames):
            rgb = synthetic_frame(i, work)
            yield frame_input(rgb, synthetic_scribble(i, work, points=10), work, payload=rgb)

    colorizer = StreamingColorizer(Models(cpnet, ssnet, pwc_backend(pwc), device), config)
    rss = _current_rss_mb()
    before, loop_peak = rss(), 0.0
    start = time.perf_counter()
    n = 0
    for res in colorizer.run(inputs()):  # the process peak is reached while the models are built: sample the loop
        n += compose_rgb(res.ab, res.payload) is not None
        loop_peak = max(loop_peak, rss())
    result = {
        "frames": n,
        "seconds": time.perf_counter() - start,
        "peak_buffer_frames": colorizer.peak_buffer,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_loop_mb": before,
        "loop_peak_rss_mb": loop_peak,
    }
    if device.type == "cuda":
        result["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    print("MEMORY " + json.dumps(result))


def _current_rss_mb():
    """A function giving this process's resident set size now, in MB (psutil)."""
    import psutil

    proc = psutil.Process()
    return lambda: proc.memory_info().rss / 2**20


def memory(frames: int, work, device, threads: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--memory-child",
        str(frames),
        "--memory-size",
        f"{work[0]}x{work[1]}",
        "--device",
        device.type,
        "--threads",
        str(threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEMORY ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"memory run failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(lines[-1][7:])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--frames", type=int, default=None, help="clip length for speed (default 30 on GPU, 16 on CPU)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--inputs", default="256x448,480x854", help="input frame sizes H x W, comma separated")
    p.add_argument("--memory-frames", default="30,300")
    p.add_argument(
        "--memory-size", default=None, help="working size for the memory runs (default: 256x448 on GPU, 64x128 on CPU)"
    )
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.memory_child is not None:
        memory_child(args.memory_child, _size(args.memory_size), args.device, args.threads)
        return
    from svcnet.ops.device import resolve_device

    device = resolve_device(args.device)
    frames = args.frames or (30 if device.type == "cuda" else 16)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(
        f"# inference benchmark: device {device} ({name}), torch {torch.__version__}, random weights (seed 0), "
        f"working size {WORK[0]}x{WORK[1]}"
    )
    report: dict = {"device": str(device), "device_name": name, "speed": [], "memory": {}}
    if not args.skip_speed:
        models = build_models(device)
        for size in args.inputs.split(","):
            r = speed(_size(size), frames, device, models)
            report["speed"].append(r)
            print(
                f"input {r['input']:>8} {frames} frames: official {r['official_fps']:.4f} fps, streaming "
                f"{r['streaming_fps']:.4f} fps -> speedup x{r['speedup']:.2f} (steady state "
                f"{r['official_steady_s_per_frame']:.2f} vs {r['streaming_steady_s_per_frame']:.2f} s/frame, "
                f"x{r['steady_speedup']:.2f}); max |diff| ab {r['max_abs_diff_ab']:.2e}, "
                f"RGB {r['max_abs_diff_rgb_uint8']}",
                flush=True,
            )
        del models
    if not args.skip_memory:
        work = _size(args.memory_size) if args.memory_size else (WORK if device.type == "cuda" else (64, 128))
        counts = [int(c) for c in args.memory_frames.split(",")]
        runs = {c: memory(c, work, device, args.threads) for c in counts}
        report["memory"] = {"work_size": list(work), "runs": runs}
        key = "cuda_max_allocated_mb" if device.type == "cuda" else "loop_peak_rss_mb"
        for c, r in runs.items():
            print(
                f"memory {c:>4} frames at working size {work[0]}x{work[1]}: {key} {r[key]:.0f} MB "
                f"(buffer peak {r['peak_buffer_frames']} frames, {r['seconds']:.1f} s)",
                flush=True,
            )
        if len(counts) >= 2:
            ratio = runs[counts[-1]][key] / runs[counts[0]][key]
            report["memory"]["ratio"] = ratio
            print(f"memory ratio {counts[-1]}/{counts[0]} frames: {ratio:.3f} (target <= 1.1)")
    print("JSON " + json.dumps(report))


if __name__ == "__main__":
    main()
