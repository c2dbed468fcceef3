"""Training throughput: svcnet's loop vs a straightforward loop in the style of the official trainers.

Same network, initial weights, batch and data (a packed clip set) for both; each variant runs in its own process
(so peak memory is its own) and the ratios are printed side by side from one run of this script:

* ``official``: what ``CPNet/trainer.py`` / ``SSNet/trainer.py`` do per iteration, with the official layers (a
  ``ZeroPad2d`` module before each zero-padded convolution) — fp32, contiguous tensors, a shuffled DataLoader,
  tensors moved to the device one by one, ``zero_grad`` filling zeros, ``loss.item()`` printed every iteration;
  SSNet computes all three SR branches (×2, ×4, ×8) as the official forward does.
* ``ours``: :class:`svcnet.train.loop.TrainLoop` as ``svcnet train`` runs it — zero padding inside the
  convolutions, AMP (bf16/fp16) and channels_last on CUDA, cuDNN autotuning, pinned memory, ``set_to_none``, only
  the ×2 SR branch SSNet returns, NaN checks, CSV and TensorBoard logs and checkpoint-free timing (checkpoints are
  written only at the end).

Usage: ``python bench/training.py [--net cpnet|ssnet|both] [--device auto|cpu|cuda] [--iterations 20] [--warmup 3]
[--size 256 448] [--batch 4] [--data data/demo/train.lmdb]``. Prints it/s, peak memory (CUDA: max allocated;
CPU: peak RSS) and the speed ratio ours/official.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _demo_lmdb(tmp: Path) -> Path:
    """The embedded demo clips (first 10 frames each, at their 448×256 size) packed into tmp/train.lmdb."""
    from svcnet.data.frames import list_frames, read_mask, read_rgb, write_png
    from svcnet.data.lmdb_pack import pack_clips

    demo = REPO / "datasets" / "demo" / "davis"
    src = tmp / "clips"
    for clip in sorted(p.name for p in demo.iterdir() if p.is_dir()):
        for kind in ("frames", "masks"):
            (src / clip / kind).mkdir(parents=True, exist_ok=True)
        for path in list_frames(demo / clip / "frames")[:10]:
            write_png(src / clip / "frames" / f"{path.stem}.png", read_rgb(path))
            write_png(src / clip / "masks" / f"{path.stem}.png", read_mask(demo / clip / "masks" / f"{path.stem}.png"))
    out = tmp / "train.lmdb"
    pack_clips(src, out, ("masks",), 1)
    return out


def _build(net: str, args, seed: int = 0):
    """(TrainStep, dataset) with fixed initial weights for ``net``."""
    import torch

    from svcnet.models.blocks import official_zero_padding
    from svcnet.train.scribble_fns import image_scribble_fn, window_scribble_fn
    from svcnet.train.settings import ScribbleSettings

    # the official networks pad with a separate ZeroPad2d before each convolution; ours pad inside it (same numbers)
    layers = official_zero_padding if args.variant == "official" else (lambda module: module)
    torch.manual_seed(seed)
    size = tuple(args.size)
    if net == "cpnet":
        from svcnet.models.cpnet import CPNet
        from svcnet.train.cpnet_data import CPNetImages
        from svcnet.train.cpnet_step import CPNetTrainStep

        ds = CPNetImages(args.data, size, image_scribble_fn(ScribbleSettings()), seed=seed)
        return CPNetTrainStep(layers(CPNet()), lr=5e-5), ds
    from svcnet.models.cpnet import CPNet
    from svcnet.models.ssnet import SSNet
    from svcnet.train.init_weights import official_normal_init
    from svcnet.train.ssnet_data import SSNetWindows
    from svcnet.train.ssnet_step import SSNetStep

    scales = (2, 4, 8) if args.variant == "official" else (2,)
    ssnet = SSNet(sr_scales=scales, freeze_pretrained=True)
    official_normal_init(ssnet)
    ds = SSNetWindows(
        args.data, size, window_scribble_fn(ScribbleSettings()), seed=seed, flow="dis", flow_direction="aligned"
    )
    return SSNetStep(layers(CPNet()), layers(ssnet), lr_ssnet=5e-5, lr_cpnet=1e-6, lambda_sr=0.0), ds


def _official_loop(step, ds, args, device) -> float:
    """The official trainers' per-iteration pattern; returns it/s over the timed iterations."""
    import torch
    from torch.utils.data import DataLoader

    torch.backends.cudnn.benchmark = True
    step.to(device).train()
    opt = torch.optim.Adam([g for g in step.param_groups() if g["params"]], betas=(0.5, 0.999))
    n = args.warmup + args.iterations
    sampler = torch.utils.data.RandomSampler(range(10 * n * args.batch), num_samples=n * args.batch)
    loader = DataLoader(ds, batch_size=args.batch, sampler=sampler, num_workers=args.workers)
    t0 = None
    for i, batch in enumerate(loader):
        if i == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        batch = {k: v.to(device) for k, v in batch.items()}
        opt.zero_grad(set_to_none=False)
        losses = step(batch)
        losses["loss"].backward()
        opt.step()
        print(f"[iter {i}] loss {losses['loss'].item():.5f}", file=sys.stderr)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return args.iterations / (time.perf_counter() - t0)


def _our_loop(step, ds, args, device, out: Path) -> float:
    """svcnet's TrainLoop; it/s from its per-iteration CSV, warm-up iterations left out."""
    from svcnet.train.distributed import DistInfo
    from svcnet.train.logs import read_csv_log
    from svcnet.train.loop import LoopSettings, TrainLoop

    n = args.warmup + args.iterations
    s = LoopSettings(
        iterations=n,
        batch_size=args.batch,
        save_every=0,
        log_every=1,
        num_workers=args.workers,
        progress=False,
        lr_step=0,
    )
    TrainLoop(step, ds, s, out, DistInfo(device=device), title=f"bench {args.net}").run()
    speeds = read_csv_log(out / "log.csv")["it_per_s"][args.warmup :]
    return len(speeds) / sum(1.0 / v for v in speeds)


def _child(args) -> None:
    import torch

    from svcnet.ops.device import resolve_device
    from svcnet.train.loop import peak_memory_mb

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device, cuda_index=0)
    step, ds = _build(args.net, args)
    with tempfile.TemporaryDirectory() as tmp:
        if args.variant == "official":
            speed = _official_loop(step, ds, args, device)
        else:
            speed = _our_loop(step, ds, args, device, Path(tmp))
    print(json.dumps({"it_per_s": speed, "peak_mb": peak_memory_mb(device)[0], "device": str(device)}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--net", choices=["cpnet", "ssnet", "both"], default="cpnet")
    p.add_argument("--device", default="auto")
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--size", type=int, nargs=2, default=None, help="H W (default 256 448, CPU 128 224)")
    p.add_argument("--batch", type=int, default=None, help="per step (default CPNet 4 / SSNet 1; CPU 1)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=max(1, min(8, os.cpu_count() or 1)))
    p.add_argument("--data", type=Path, default=None, help="packed clips (default: the demo clips, packed to /tmp)")
    p.add_argument("--variant", choices=["official", "ours"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:
        _child(args)
        return
    import torch

    cuda = args.device in ("auto", "cuda") and torch.cuda.is_available()
    size = args.size or ([256, 448] if cuda else [128, 224])
    nets = ["cpnet", "ssnet"] if args.net == "both" else [args.net]
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or _demo_lmdb(Path(tmp))
        print(
            f"device {'cuda: ' + torch.cuda.get_device_name() if cuda else 'cpu'}, size {size[0]}x{size[1]}, "
            f"{args.iterations} timed iterations after {args.warmup} warm-up, data {data}"
        )
        print(
            f"{'net':6} {'batch':>5} {'official it/s':>14} {'ours it/s':>10} {'speed-up':>9} "
            f"{'official MB':>12} {'ours MB':>9}"
        )
        for net in nets:
            batch = args.batch or (4 if net == "cpnet" and cuda else 1)
            res = {}
            for variant in ("official", "ours"):
                cmd = [
                    sys.executable,
                    __file__,
                    "--net",
                    net,
                    "--variant",
                    variant,
                    "--device",
                    args.device,
                    "--iterations",
                    str(args.iterations),
                    "--warmup",
                    str(args.warmup),
                    "--size",
                    *map(str, size),
                    "--batch",
                    str(batch),
                    "--workers",
                    str(args.workers),
                    "--threads",
                    str(args.threads),
                    "--data",
                    str(data),
                ]
                run = subprocess.run(cmd, capture_output=True, text=True)
                if run.returncode != 0:
                    sys.exit(f"{net}/{variant} failed:\n{run.stderr[-3000:]}")
                res[variant] = json.loads(run.stdout.strip().splitlines()[-1])
            o, u = res["official"], res["ours"]
            print(
                f"{net:6} {batch:>5} {o['it_per_s']:>14.3f} {u['it_per_s']:>10.3f} "
                f"{u['it_per_s'] / o['it_per_s']:>8.2f}x {o['peak_mb']:>12.0f} {u['peak_mb']:>9.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
