"""How far CPU results move with the instruction set and the thread count, and what ``train.cpu_isa: avx2`` costs.

Each variant runs the same chain in its own processes: ``svcnet train cpnet`` (stage 2, from the same seed, on the same
packed clips), then ``svcnet colorize --method cpnet`` on one evaluation clip with its scribbles and ``svcnet
evaluate`` on the result. Variants differ only in ``train.threads`` / ``train.cpu_isa`` and in the environment that
selects the kernels (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``; the colorize and evaluate commands get the same
environment). Printed side by side from one run: whether the trained weights are bitwise equal to the first variant's,
their largest difference, the last training loss, the clip's PSNR, and the training speed relative to the first
variant (median it/s of the timed iterations).

Usage: ``python bench/reproducibility.py --data data/demo/train.lmdb --eval data/demo/eval --scribbles
results/demo/scribbles/gt [--clip blackswan] [--iterations 12] [--size 64 112] [--batch 2] [--threads 2]`` (paths of a
finished ``demo`` or ``dagtest`` run; ``--eval`` and ``--scribbles`` are the split's folders).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def variants(threads: int) -> list[tuple[str, int, str, dict[str, str]]]:
    """(name, train.threads, train.cpu_isa, extra environment)."""
    return [
        (f"native, {threads} threads", threads, "native", {}),
        ("native, 1 thread", 1, "native", {}),
        (f"ATen kernels without SIMD, {threads} threads", threads, "native", {"ATEN_CPU_CAPABILITY": "default"}),
        (f"oneDNN capped at AVX2 only, {threads} threads", threads, "native", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
        (f"cpu_isa avx2, {threads} threads", threads, "avx2", {}),
        ("cpu_isa avx2, 1 thread", 1, "avx2", {}),
    ]


def _config(tmp: Path, args, threads: int, cpu_isa: str) -> Path:
    stage = {
        "unit": "iteration",
        "duration": args.iterations,
        "batch_size": args.batch,
        "size": list(args.size),
        "save_every": 0,
        "log_every": 1,
    }
    train = {"num_workers": 0, "threads": threads, "cpu_isa": cpu_isa, "cpnet1": {"duration": 0}, "cpnet2": stage}
    cfg = {"profile": "bench", "profiles": {"bench": {}}, "train": train}
    path = tmp / f"config_{threads}_{cpu_isa}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def run_variant(tmp: Path, args, name: str, threads: int, cpu_isa: str, extra: dict[str, str]) -> dict:
    """Train, colorize and evaluate in fresh processes; the variant's weights, last loss, PSNR and speed."""
    import torch

    from svcnet.train.compute import isa_environment
    from svcnet.train.logs import read_csv_log

    out = tmp / name.replace(" ", "_").replace(",", "")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), **isa_environment(cpu_isa), **extra}
    svcnet = [sys.executable, "-m", "svcnet"]
    cfg = _config(tmp, args, threads, cpu_isa)
    _run(
        [
            *svcnet,
            "train",
            "cpnet",
            "--data",
            str(args.data),
            "--out",
            str(out / "train"),
            "--config",
            str(REPO / "config" / "config.yaml"),
            "--config",
            str(cfg),
            "--stage",
            "cpnet2",
            "--no-progress",
        ],
        env,
    )
    weights = out / "train" / "cpnet.pth"
    frames = args.eval / args.clip / "frames"
    _run(
        [
            *svcnet,
            "colorize",
            str(frames),
            "--scribbles",
            str(args.scribbles / args.clip),
            "--method",
            "cpnet",
            "--cpnet",
            str(weights),
            "--size",
            f"{args.size_eval[0]}x{args.size_eval[1]}",
            "--lightness",
            "input",
            "--out",
            str(out / "pred" / args.clip),
            "--no-video",
            "--quiet",
        ],
        env,
    )
    metrics = out / "metrics.json"
    gt = out / "gt"  # the evaluated clip alone (evaluate scores every clip of its --gt folder)
    gt.mkdir(exist_ok=True)
    (gt / args.clip).symlink_to((args.eval / args.clip).resolve())
    _run(
        [
            *svcnet,
            "evaluate",
            "--pred",
            str(out / "pred"),
            "--gt",
            str(gt),
            "--out",
            str(out / "eval"),
            "--metrics",
            str(metrics),
            "--quiet",
        ],
        env,
    )
    log = read_csv_log(out / "train" / "cpnet2" / "log.csv")
    return {
        "weights": torch.load(weights, map_location="cpu", weights_only=True),
        "loss": log["loss"][-1],
        "psnr": json.loads(metrics.read_text())["psnr"],
        "it_per_s": statistics.median(log["it_per_s"][args.warmup :]),
        "capability": json.loads((out / "train" / "cpnet2" / "run.json").read_text())["meta"]["cpu_capability"],
    }


def _max_diff(a: dict, b: dict) -> float:
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def _identical(a: dict, b: dict) -> bool:
    return all(a[k].dtype == b[k].dtype and bool((a[k] == b[k]).all()) for k in a)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="packed training clips (.lmdb)")
    p.add_argument("--eval", type=Path, required=True, help="the evaluation split (folder of clips)")
    p.add_argument("--clip", default="blackswan", help="the evaluation clip colorized and scored")
    p.add_argument("--scribbles", type=Path, required=True, help="scribbles of the split (<clip>/<frame>_256p.png)")
    p.add_argument("--iterations", type=int, default=12)
    p.add_argument("--warmup", type=int, default=2, help="iterations left out of the speed")
    p.add_argument("--size", type=int, nargs=2, default=[64, 112], help="training size H W")
    p.add_argument("--size-eval", type=int, nargs=2, default=[64, 112], help="colorize working size H W")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(v[0], run_variant(Path(tmp), args, *v)) for v in variants(args.threads)]
    ref = rows[0][1]
    print(
        f"CPNet stage 2, {args.iterations} iterations of batch {args.batch} at {args.size[0]}x{args.size[1]}, then "
        f"colorize + evaluate {args.clip}; reference: {rows[0][0]}"
    )
    print(f"{'variant':45} {'kernels':8} {'same bits':>9} {'max |dw|':>9} {'last loss':>10} {'PSNR':>9} {'speed':>6}")
    for name, r in rows:
        print(
            f"{name:45} {r['capability']:8} {'yes' if _identical(r['weights'], ref['weights']) else 'no':>9} "
            f"{_max_diff(r['weights'], ref['weights']):>9.2e} {r['loss']:>10.6f} {r['psnr']:>9.5f} "
            f"{r['it_per_s'] / ref['it_per_s']:>5.2f}x",
            flush=True,
        )
    by_name = dict(rows)
    for isa in ("native", "cpu_isa avx2"):
        one, two = by_name[f"{isa}, 1 thread"], by_name[f"{isa}, {args.threads} threads"]
        same = "yes" if _identical(one["weights"], two["weights"]) else "no"
        print(f"{isa}: weights at 1 and {args.threads} threads bitwise equal: {same}")


if __name__ == "__main__":
    main()
