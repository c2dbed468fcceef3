"""A long video with sound through ``svcnet colorize`` on the CPU: memory over time, and the output's timing and audio.

Builds a video of ``--seconds`` at ``--fps`` (default 60 s at 24000/1001 = 1439 frames) from the embedded DAVIS clip
``blackswan`` played forwards and backwards (256×448, H.264) with a 440 Hz AAC stereo tone as long as the video, one
first-frame scribble (carried along the flow) and random weights in the official layout (seed 0), then runs
``svcnet colorize`` on it in a child process at a small working size. The child's resident set size is sampled from
``/proc`` every ``--interval`` seconds with the number of frames written so far; printed: wall time, RSS at 10 %,
50 % and 100 % of the frames and its peak, and the output against the input (frame count, exact frame rate, audio
codec, duration and packets).

Usage: ``OMP_NUM_THREADS=1 python bench/long_video.py [--seconds 60] [--fps 24000/1001] [--size 64x112]
[--work DIR] [--interval 2] [--io-only]``; ``--io-only`` measures the video path alone (decode to PNG, encode with
the input's audio, compare).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

CLIP = REPO / "datasets" / "demo" / "davis" / "blackswan" / "frames"


def ping_pong(n: int) -> list[int]:
    """Frame indices 0, 1, ..., k-1, k-2, ..., 1, 0, 1, ... of a k-frame clip, ``n`` of them."""
    from svcnet.data.frames import list_frames

    k = len(list_frames(CLIP))
    cycle = list(range(k)) + list(range(k - 2, 0, -1))
    return [cycle[i % len(cycle)] for i in range(n)]


def build_input(work: Path, seconds: float, fps: Fraction) -> tuple[Path, Path, int]:
    """The input video and its first-frame scribble; returns their paths and the frame count."""
    from media import write_test_video

    from svcnet.data.frames import list_frames, read_rgb, write_png
    from svcnet.data.video import probe_video

    files = list_frames(CLIP)
    frames = [read_rgb(p) for p in files]
    n = round(Fraction(seconds) * fps)
    video = work / "input.mp4"
    if not (video.is_file() and probe_video(video).frames == n and probe_video(video).fps == fps):
        write_test_video(video, (frames[i] for i in ping_pong(n)), fps, n)
    scribble = np.zeros_like(frames[0])
    h, w = scribble.shape[:2]
    scribble[h // 4 : h // 4 + 8, w // 3 : w // 3 + 8] = (230, 40, 30)
    scribble[h // 2 : h // 2 + 8, 2 * w // 3 : 2 * w // 3 + 8] = (20, 60, 220)
    scribble[3 * h // 4 : 3 * h // 4 + 8, w // 5 : w // 5 + 8] = (40, 200, 60)
    write_png(work / "scribble.png", scribble)
    return video, work / "scribble.png", n


def random_weights(folder: Path) -> Path:
    """CPNet, SSNet and PWC-Net with random weights (seed 0), saved under the official file names."""
    import torch

    from svcnet.infer.models import load_cpnet, load_pwcnet, load_ssnet
    from svcnet.models.checkpoint import save_official

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cpu = torch.device("cpu")
    for name, net in (
        ("cpnet_epoch1000_batchsize32.pth", load_cpnet(None, cpu)),
        ("ssnet_epoch2000_bs8.pth", load_ssnet(None, cpu)),
        ("pwcNet-default.pytorch", load_pwcnet(None, cpu)),
    ):
        save_official(net, folder / name)
    return folder


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def frames_written(out: Path) -> int:
    """PNG frames written so far: in the run's work folder while it runs, in ``out`` once it is finished."""
    from svcnet.infer.writers import WorkFolder

    return max(len(list((d / "frames").glob("*.png"))) for d in (WorkFolder(out).out_dir, out))


def run_colorize(video: Path, scribble: Path, weights: Path, out: Path, size: str, interval: float, log: Path) -> dict:
    """Run ``svcnet colorize`` in a child process; its RSS samples are also appended to ``log`` (one JSON a line) as
    they are taken, so an interrupted measurement keeps them."""
    cmd = [sys.executable, "-m", "svcnet", "colorize", str(video), "-s", str(scribble), "-o", str(out)]
    cmd += ["-w", str(weights), "--size", size, "--device", "cpu", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    output = log.with_suffix(".log")
    with output.open("w") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        samples = []
        while proc.poll() is None:
            rss = rss_mib(proc.pid)
            if rss is not None:
                t = round(time.perf_counter() - start, 1)
                samples.append({"t": t, "rss_mib": round(rss, 1), "frames": frames_written(out)})
                with log.open("a") as f:
                    f.write(json.dumps(samples[-1]) + "\n")
            time.sleep(interval)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"svcnet colorize failed ({proc.returncode}):\n{output.read_text()[-3000:]}")
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": round(wall, 1), "peak_rss_mib": round(peak, 1), "samples": samples}


def rss_at(samples: list[dict], n: int, fraction: float) -> float | None:
    """RSS of the first sample with at least ``fraction`` of the frames written."""
    for s in samples:
        if s["frames"] >= fraction * n:
            return s["rss_mib"]
    return None


def audio_packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def compare(video: Path, result: Path) -> dict:
    """Frame count, exact rate, duration and audio of the output against the input."""
    from svcnet.data.video import probe_video

    src, dst = probe_video(video), probe_video(result)
    return {
        "input": {"frames": src.frames, "fps": str(src.fps), "duration_s": src.duration, "audio": vars(src.audio)},
        "output": {"frames": dst.frames, "fps": str(dst.fps), "duration_s": dst.duration, "audio": vars(dst.audio)},
        "audio_packets_equal": audio_packets(video) == audio_packets(result),
    }


def io_only(video: Path, work: Path) -> dict:
    """The video path alone: decode the input to PNG frames, encode them with the input's audio, compare."""
    import resource

    from svcnet.data.frames import write_png
    from svcnet.data.video import VideoSettings, encode_video, iter_frames, probe_video

    folder = work / "io" / "frames"
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    paths = []
    for i, img in enumerate(iter_frames(video)):
        paths.append(folder / f"{i:05d}.png")
        write_png(paths[-1], img)
    decoded = time.perf_counter() - start
    result = work / "io" / "colorized.mp4"
    encode_video(paths, result, probe_video(video).fps, VideoSettings(), audio_from=video)
    return {
        **compare(video, result),
        "decode_to_png_s": round(decoded, 1),
        "encode_s": round(time.perf_counter() - start - decoded, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", default="24000/1001")
    parser.add_argument("--size", default="64x112", help="working size H x W")
    parser.add_argument("--work", type=Path, default=None, help="folder for the input and output (default: a temp)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between two RSS samples")
    parser.add_argument("--io-only", action="store_true", help="only decode to PNG and encode (no colorize)")
    args = parser.parse_args()
    from svcnet.data.video import parse_fps

    fps = parse_fps(args.fps)
    work = args.work or Path(tempfile.mkdtemp(prefix="svcnet_long_video_"))
    work.mkdir(parents=True, exist_ok=True)
    video, scribble, n = build_input(work, args.seconds, fps)
    if args.io_only:
        print(json.dumps(io_only(video, work), indent=2))
        return
    weights = random_weights(work / "weights")
    out = work / "out"
    samples = work / "samples.jsonl"
    samples.unlink(missing_ok=True)
    run = run_colorize(video, scribble, weights, out, args.size, args.interval, samples)
    meta = json.loads((out / "metadata.json").read_text())
    figures = {
        **compare(video, out / meta["video"]),
        "png_frames": len(meta["frames"]),
        "working_size": args.size,
        "threads": os.environ.get("OMP_NUM_THREADS", "1"),
        "wall_s": run["wall_s"],
        "frames_per_s": round(n / run["wall_s"], 2),
        "rss_mib_at": {f"{int(f * 100)}%": rss_at(run["samples"], n, f) for f in (0.1, 0.5, 1.0)},
        "peak_rss_mib": run["peak_rss_mib"],
        "max_sampled_rss_mib": max(s["rss_mib"] for s in run["samples"]),
    }
    print(json.dumps(figures, indent=2))
    print(f"RSS samples: {samples}")


if __name__ == "__main__":
    main()
