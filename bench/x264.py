"""x264's instruction set and macroblock tree: speed, size and whether the same frames give the same bytes.

Each variant encodes the demo clips' 150 frames (256×448, 24000/1001, crf 18, preset medium, one thread, the options
:func:`svcnet.data.video.encode_frames` uses) ``--repeats`` times in this process and then once in each of
``--processes`` fresh processes. Printed side by side from one run: milliseconds per frame (median of the in-process
repeats) and its ratio to the first variant, the file size, and how many distinct files the repeats and the fresh
processes gave (1 = reproducible). The variant svcnet uses on this CPU is marked.

Usage: ``python bench/x264.py [--repeats 5] [--processes 12]``
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from svcnet.data.frames import list_frames, read_rgb  # noqa: E402
from svcnet.data.video import x264_params  # noqa: E402

FPS = Fraction(24000, 1001)
VARIANTS = {
    "x264 default (AVX-512 where the CPU has it)": {},
    "asm=AVX2": {"x264-params": "asm=AVX2"},
    "mbtree=0": {"x264-params": "mbtree=0"},
    "asm=0 (C only)": {"x264-params": "asm=0"},
}

CHILD = """
import sys, json
sys.path.insert(0, sys.argv[1])
from bench.x264 import demo_frames, encode
print(encode(demo_frames(), sys.argv[2], json.loads(sys.argv[3]))[1])
"""


def demo_frames() -> list:
    clips = sorted(p for p in (REPO / "datasets" / "demo" / "davis").iterdir() if p.is_dir())
    return [read_rgb(p) for c in clips for p in list_frames(c / "frames")]


def encode(frames: list, out: str, extra: dict[str, str]) -> tuple[float, str, int]:
    """Seconds, sha256 and size of one encode with svcnet's options plus ``extra``."""
    import av

    start = time.perf_counter()
    with av.open(out, "w", format="mp4", container_options={"fflags": "+bitexact"}) as dst:
        stream = dst.add_stream("libx264", rate=FPS)
        stream.codec_context.time_base = 1 / FPS
        stream.pix_fmt, stream.thread_count = "yuv420p", 1
        stream.options = {"crf": "18", "preset": "medium", **extra}
        stream.height, stream.width = frames[0].shape[:2]
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p", threads=1)
            frame.pts, frame.time_base = i, 1 / FPS
            dst.mux(stream.encode(frame))
        dst.mux(stream.encode(None))
    seconds = time.perf_counter() - start
    data = Path(out).read_bytes()
    return seconds, hashlib.sha256(data).hexdigest(), len(data)


def fresh_process_digests(extra: dict[str, str], processes: int, folder: Path) -> set[str]:
    import json

    return {
        subprocess.run(
            [sys.executable, "-c", CHILD, str(REPO), str(folder / "child.mp4"), json.dumps(extra)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for _ in range(processes)
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--processes", type=int, default=12)
    args = ap.parse_args()
    frames = demo_frames()
    used = x264_params()
    print(f"{len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}; svcnet uses {used or 'x264 default'}")
    print(f"{'variant':46s} {'ms/frame':>9s} {'ratio':>6s} {'bytes':>8s} {'repeats':>8s} {'processes':>9s}")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in VARIANTS.items():
            runs = [encode(frames, str(Path(tmp) / "v.mp4"), extra) for _ in range(args.repeats)]
            ms = statistics.median(r[0] for r in runs) / len(frames) * 1000
            base = base or ms
            procs = fresh_process_digests(extra, args.processes, Path(tmp))
            mark = " <- svcnet" if extra == used else ""
            print(
                f"{name:46s} {ms:9.1f} {ms / base:6.2f} {runs[-1][2]:8d} {len({r[1] for r in runs}):8d} "
                f"{len(procs):9d}{mark}"
            )


if __name__ == "__main__":
    main()
