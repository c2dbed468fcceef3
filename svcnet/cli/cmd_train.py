"""``svcnet train cpnet|ssnet``: train SVCNet's networks (single process, or DDP under torchrun; with
``train.processes`` > 1 the command starts torchrun itself)."""

from __future__ import annotations

from pathlib import Path

import typer

train_app = typer.Typer(
    help="Train CPNet (stage 1 images, stage 2 video frames) and SSNet (WARN warm-up, then joint "
    "training on 7-frame windows). train.processes > 1 runs them in that many processes (torchrun, started by the "
    "command when it is not already under torchrun); train.<stage>.global_batch sets the batch of an optimiser step "
    "(the rest by gradient accumulation).",
    no_args_is_help=True,
)

_CONFIG = typer.Option(None, "--config", "-c", help="Config file(s) (default config/config.yaml); section `train:`.")
_PROFILE = typer.Option(None, "--profile", "-p", help="Profile to apply: demo | small | paper (default: the file's).")
_RESUME = typer.Option(False, "--resume", help="Continue from the latest checkpoint in OUT (exactly, same settings).")
_DEVICE = typer.Option(None, "--device", help="auto | cpu | cuda (default: train.device).")
_AMP = typer.Option(None, "--amp", help="auto | off | bf16 | fp16 (CUDA only; default: train.amp).")
_ITERS = typer.Option(None, "--iterations", help="Override the stage length (in iterations).")
_STOP = typer.Option(None, "--stop-after", help="End this run after this iteration (a later --resume continues).")
_SAVE = typer.Option(None, "--save-every", help="Override the checkpoint interval (in iterations).")
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show a progress bar.")


def _setup(config: list[Path] | None, profile: str | None, device: str | None):
    import logging
    import os
    import sys

    from svcnet.config import DEFAULT_CONFIG, load_config
    from svcnet.train.compute import configure_cpu
    from svcnet.train.distributed import init_distributed
    from svcnet.train.launch import relaunch_under_torchrun, under_torchrun
    from svcnet.train.settings import TrainSettings

    cfg = load_config(config or [DEFAULT_CONFIG], profile)
    ts = cfg.section_as("train", TrainSettings)
    if ts.processes > 1 and not under_torchrun():
        relaunch_under_torchrun(ts.processes, sys.argv[1:])
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if "WORLD_SIZE" in os.environ else 1
    configure_cpu(ts.threads, ts.cpu_isa, local)  # before the first kernel runs
    info = init_distributed(device or ts.device)
    if info.is_main and info.world_size != ts.processes:
        logging.getLogger(__name__).info(
            "%d process(es) (torchrun); train.processes is %d", info.world_size, ts.processes
        )
    if not info.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    return cfg, ts, info


def _overrides(amp, iterations, stop_after, save_every, progress) -> dict:
    return {
        "amp": amp,
        "iterations": iterations,
        "stop_after": stop_after,
        "save_every": save_every,
        "progress": progress,
    }


@train_app.command("cpnet")
def train_cpnet_cmd(
    data: Path = typer.Option(..., "--data", help="Packed training clips (data/<profile>/train.lmdb)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; OUT/cpnet.pth is the trained CPNet."),
    stage: list[str] = typer.Option(None, "--stage", help="cpnet1 and/or cpnet2 (default: both, in order)."),
    config: list[Path] = _CONFIG,
    profile: str = _PROFILE,
    resume: bool = _RESUME,
    device: str = _DEVICE,
    amp: str = _AMP,
    iterations: int = _ITERS,
    stop_after: int = _STOP,
    save_every: int = _SAVE,
    progress: bool = _PROGRESS,
) -> None:
    """CPNet stage 1 (images, 256×256 in the paper) then stage 2 (video frames, 256×448)."""
    from svcnet.train.distributed import shutdown_distributed
    from svcnet.train.stages import data_path, train_cpnet

    _cfg, ts, info = _setup(config, profile, device)
    try:
        stages = tuple(stage) if stage else ("cpnet1", "cpnet2")
        final = train_cpnet(
            ts,
            data_path(data),
            out,
            info,
            resume=resume,
            stages=stages,
            **_overrides(amp, iterations, stop_after, save_every, progress),
        )
    finally:
        shutdown_distributed()
    if info.is_main:
        typer.echo(
            f"{out}: CPNet training {'finished: ' + str(final) if final else 'stopped early (--resume continues)'}"
        )


@train_app.command("ssnet")
def train_ssnet_cmd(
    data: Path = typer.Option(..., "--data", help="Packed training clips (data/<profile>/train.lmdb)."),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Output folder; OUT/ssnet.pth, OUT/cpnet.pth (fine-tuned), OUT/warn/warn.pth (warm-up).",
    ),
    cpnet: Path = typer.Option(None, "--cpnet", help="CPNet to start from (default: train.init.cpnet)."),
    config: list[Path] = _CONFIG,
    profile: str = _PROFILE,
    resume: bool = _RESUME,
    device: str = _DEVICE,
    amp: str = _AMP,
    iterations: int = _ITERS,
    stop_after: int = _STOP,
    save_every: int = _SAVE,
    progress: bool = _PROGRESS,
) -> None:
    """SSNet joint training on 7-frame windows (CPNet fine-tuned at its own learning rate), after the WARN warm-up
    (train.warn, into OUT/warn/) unless train.init.warn gives WARN's weights. --iterations, --stop-after and
    --save-every apply to the joint training."""
    from svcnet.train.distributed import shutdown_distributed
    from svcnet.train.stages import data_path, train_ssnet

    _cfg, ts, info = _setup(config, profile, device)
    try:
        res = train_ssnet(
            ts,
            data_path(data),
            cpnet,
            out,
            info,
            resume=resume,
            **_overrides(amp, iterations, stop_after, save_every, progress),
        )
    finally:
        shutdown_distributed()
    if info.is_main:
        typer.echo(
            f"{out}: SSNet training {'finished' if res.completed else 'stopped early (--resume continues)'} "
            f"at iteration {res.iteration}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
