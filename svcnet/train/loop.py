"""The training loop shared by every stage: DDP, AMP, channels_last, exact resume, NaN stop, logs, checkpoints.

A stage supplies a :class:`TrainStep` (an ``nn.Module`` whose ``forward(batch)`` returns its losses, ``"loss"`` being
the one optimised; ``networks`` names the sub-networks saved in the official layout; ``param_groups()`` the
optimiser groups with their learning rates) and a map-style dataset indexed by global sample number
(:mod:`svcnet.train.sampling`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from svcnet.data.atomic import free_bytes, link_or_copy, write_text_atomic
from svcnet.errors import SvcnetError
from svcnet.train.checkpoints import (
    checkpoint_file,
    latest_checkpoint,
    load_checkpoint,
    plain_state_dict,
    save_checkpoint,
    save_weights,
)
from svcnet.train.distributed import DistInfo, all_reduce_mean, barrier
from svcnet.train.logs import CSV_NAME, PLOT_NAME, TB_DIR, CsvLog, TensorBoardLog, plot_loss_curve
from svcnet.train.rng import rng_state, seed_everything, set_rng_state
from svcnet.train.sampling import IterationSampler

log = logging.getLogger(__name__)

# LoopSettings that may differ between a run and its resumption.
RUN_ONLY = ("stop_after", "progress", "num_workers", "keep_checkpoints", "log_every")
RUN_NAME = "run.json"  # what the run trains and how (written at the start)
SUMMARY_NAME = "summary.json"  # what a completed run did


class TrainingDiverged(SvcnetError):
    """The loss (or a weight) became NaN/inf; training stopped and the last good checkpoint was kept."""


class TrainStep(nn.Module):
    """One stage's trainable networks and loss. Subclasses set ``networks`` and implement ``forward``."""

    networks: dict[str, nn.Module]

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimiser groups ``{"name", "params", "lr"}`` (only parameters that require gradients)."""
        raise NotImplementedError

    def forward(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class LoopSettings:
    """How the loop runs (the stage's schedule in iterations; see :mod:`svcnet.train.settings`)."""

    iterations: int
    batch_size: int = 1  # per process
    accumulation: int = 1  # micro-batches per process and optimiser step (gradient accumulation)
    save_every: int = 0  # iterations between checkpoints (0: only at the end)
    log_every: int = 1
    lr_step: int = 0  # iterations between lr × lr_gamma (0: constant)
    lr_gamma: float = 0.5
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # max global grad norm (0: off; the official trainers do not clip)
    amp: str = "auto"  # auto | off | bf16 | fp16 (CUDA only; CPU always runs fp32)
    channels_last: bool = True  # CUDA only
    cudnn_benchmark: bool = True
    deterministic: bool = False
    seed: int = 0
    num_workers: int = 0
    keep_checkpoints: int = 2
    stop_after: int = 0  # end this run after this iteration (0: run to the end); --resume continues
    progress: bool = True


@dataclass
class TrainResult:
    """What a run did."""

    out_dir: Path
    start_iteration: int
    iteration: int
    completed: bool
    checkpoint: Path | None
    weights: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    it_per_s: float = 0.0
    peak_memory_mb: float = 0.0


@dataclass
class RunState:
    """One run of the loop between :meth:`TrainLoop.setup` and :meth:`TrainLoop.finish`."""

    model: nn.Module  # the step, or its DDP wrapper
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.StepLR
    scaler: torch.amp.GradScaler
    dtype: torch.dtype | None  # autocast dtype (None: fp32)
    channels_last: bool
    start: int  # first iteration of this run (0, or the resumed checkpoint's)
    stop: int  # this run ends after this iteration
    checkpoint: Path | None = None  # the latest checkpoint saved or resumed from
    it: int = -1  # iterations done (set to ``start`` by __post_init__)
    history: list[dict[str, float]] = field(default_factory=list)  # the logged rows (main process)
    csv_log: CsvLog | None = None
    tb: TensorBoardLog | None = None
    bar: Any = None  # tqdm progress bar
    t0: float = 0.0
    t_last: float = 0.0
    it_last: int = 0

    def __post_init__(self) -> None:
        self.it = self.start

    def start_timer(self) -> None:
        self.t0 = self.t_last = time.perf_counter()
        self.it_last = self.start

    def close(self) -> None:
        """Close the progress bar and the logs (flushing TensorBoard)."""
        for handle in (self.bar, self.csv_log, self.tb):
            if handle is not None:
                handle.close()


def amp_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``setting`` on ``device`` (None = full fp32)."""
    if device.type != "cuda" or setting == "off":
        return None
    if setting == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[setting]


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move every tensor of a (nested) batch to ``device``; 4-D float tensors optionally to channels_last."""
    if isinstance(batch, torch.Tensor):
        t = batch.to(device, non_blocking=True)
        if channels_last and t.dim() == 4 and t.is_floating_point():
            t = t.contiguous(memory_format=torch.channels_last)
        return t
    if isinstance(batch, Mapping):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch


def _all_finite(module: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


def set_determinism(on: bool) -> None:
    """Deterministic kernels (CUDA/cuDNN) when ``on``; CPU kernels are deterministic at a fixed thread count."""
    torch.backends.cudnn.deterministic = on
    torch.use_deterministic_algorithms(on, warn_only=True)
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class TrainLoop:
    """Runs a :class:`TrainStep` on a dataset for ``settings.iterations`` iterations into ``out_dir``."""

    def __init__(
        self,
        step: TrainStep,
        dataset: Dataset,
        settings: LoopSettings,
        out_dir: str | os.PathLike,
        info: DistInfo | None = None,
        title: str = "",
        collate_fn: Callable | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.step, self.dataset, self.s = step, dataset, settings
        self.out = Path(out_dir)
        self.info = info or DistInfo()
        self.title = title or type(step).__name__
        self.collate_fn = collate_fn
        self.meta = dict(meta or {})

    # ------------------------------------------------------------------------------------------------ set-up
    def _optimizer(self) -> torch.optim.Optimizer:
        groups = [g for g in self.step.param_groups() if g["params"]]
        if not groups:
            raise SvcnetError(f"{self.title}: nothing to train (every parameter is frozen)")
        return torch.optim.Adam(groups, betas=tuple(self.s.betas), weight_decay=self.s.weight_decay)

    def _scheduler(self, opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.StepLR:
        step = self.s.lr_step if self.s.lr_step > 0 else 2**62
        return torch.optim.lr_scheduler.StepLR(opt, step_size=step, gamma=self.s.lr_gamma)

    def _resume(self, opt, sched, scaler) -> tuple[int, Path | None]:
        ckpt = latest_checkpoint(self.out)
        if ckpt is None:
            log.info("%s: no checkpoint under %s; starting at iteration 0", self.title, self.out)
            return 0, None
        weights, state = load_checkpoint(ckpt, list(self.step.networks))
        if state.get("fingerprint") != self._fingerprint():
            log.warning(
                "%s: the checkpoint %s was made with other settings or data; starting over at iteration 0",
                self.title,
                ckpt,
            )
            return 0, None
        for name, net in self.step.networks.items():
            net.load_state_dict(weights[name], strict=True)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        it = int(state["iteration"])
        if (
            state.get("settings", {}).get("batch_size") not in (None, self.s.batch_size)
            or state.get("world_size", self.info.world_size) != self.info.world_size
        ):
            log.warning(
                "%s: resuming with another batch size or process count than the checkpoint: the run "
                "continues but will not be identical to an uninterrupted one",
                self.title,
            )
        log.info("%s: resumed from %s (iteration %d of %d)", self.title, ckpt, it, self.s.iterations)
        return it, ckpt

    def _loader(self, start: int) -> DataLoader:
        """Micro-batches from iteration ``start`` on: ``accumulation`` per iteration, in global sample order."""
        a = self.s.accumulation
        sampler = IterationSampler(
            start * a, self.s.iterations * a, self.s.batch_size, self.info.world_size, self.info.rank
        )
        kw: dict[str, Any] = {}
        if self.s.num_workers > 0:
            kw.update(prefetch_factor=4, persistent_workers=False)
        return DataLoader(
            self.dataset,
            batch_size=self.s.batch_size,
            sampler=sampler,
            num_workers=self.s.num_workers,
            pin_memory=self.info.device.type == "cuda",
            drop_last=False,
            collate_fn=self.collate_fn,
            generator=torch.Generator().manual_seed(self.s.seed),  # worker seeds not drawn from the global RNG (resume)
            **kw,
        )

    def _save(self, it: int, opt, sched, scaler, losses: list[dict[str, float]]) -> Path | None:
        ckpt = None
        if self.info.is_main:
            weights = {name: plain_state_dict(net) for name, net in self.step.networks.items()}
            state = {
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                "rng": rng_state(),
                "settings": _plain(asdict(self.s)),
                "world_size": self.info.world_size,
                "title": self.title,
                "fingerprint": self._fingerprint(),
            }
            ckpt = save_checkpoint(self.out, it, weights, state, keep=self.s.keep_checkpoints)
        barrier(self.info)
        return ckpt

    # -------------------------------------------------------------------------------------------------- run
    def run(self, resume: bool = False) -> TrainResult:
        """Set up, run the iterations from the start (or the latest checkpoint) to the end or ``stop_after``,
        finish."""
        state = self.setup(resume)
        try:
            if state.it < state.stop:
                for batches in _groups(self._loader(state.start), self.s.accumulation):
                    self.iteration(state, *batches)
                    if state.it >= state.stop:
                        break
        finally:
            state.close()
        return self.finish(state)

    def setup(self, resume: bool = False) -> RunState:
        """Seed, place the networks, build the optimiser and scheduler (restored from the latest checkpoint when
        ``resume``), wrap in DDP, write ``run.json`` and open the logs."""
        s, info, dev = self.s, self.info, self.info.device
        self.out.mkdir(parents=True, exist_ok=True)
        self._configure_backends()
        seed_everything(s.seed + info.rank)
        cl = s.channels_last and dev.type == "cuda"
        self.step.to(dev)
        if cl:
            self.step.to(memory_format=torch.channels_last)
        dtype = amp_dtype(s.amp, dev)
        opt = self._optimizer()
        sched = self._scheduler(opt)
        scaler = torch.amp.GradScaler(dev.type, enabled=dtype is torch.float16)
        start, ckpt = self._resume(opt, sched, scaler) if resume else (0, None)
        if not resume and latest_checkpoint(self.out) is not None:
            log.warning(
                "%s: %s holds checkpoints of an earlier run; starting over (pass --resume to continue)",
                self.title,
                self.out,
            )
        state = RunState(
            model=self._wrap(),
            opt=opt,
            sched=sched,
            scaler=scaler,
            dtype=dtype,
            channels_last=cl,
            start=start,
            stop=s.iterations if s.stop_after <= 0 else min(s.iterations, max(start, s.stop_after)),
            checkpoint=ckpt,
        )
        state.model.train()
        if info.is_main:
            self._announce(state)
            self._warn_if_disk_short(opt)
            self._open_logs(state, resume)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        state.start_timer()
        if info.is_main and s.progress:
            state.bar = self._progress_bar(start)
        return state

    def iteration(self, state: RunState, *batches: Any) -> None:
        """One optimisation step on the micro-batches ``batches`` (``accumulation`` of them; their gradients are
        averaged): forward, NaN check and backward of each, optimiser and scheduler step; then the log row (losses
        averaged over the micro-batches) and the checkpoint when they are due."""
        s = self.s
        state.opt.zero_grad(set_to_none=True)
        values = None
        for k, batch in enumerate(batches):
            last = k == len(batches) - 1
            sync = contextlib.nullcontext() if last or not self.info.distributed else state.model.no_sync()
            with sync:
                losses, micro = self._backward(state, batch, len(batches))
            values = micro if values is None else values + micro
        values = values / len(batches)
        lrs = self._optimise(state)
        state.it += 1
        if state.it % s.log_every == 0 or state.it == state.stop:
            self._log_row(state, list(losses), values, lrs)
        if state.bar is not None:
            state.bar.update(1)
        if (s.save_every > 0 and state.it % s.save_every == 0) or state.it == s.iterations:
            if not _all_finite(self.step):
                self._diverged(state.it, losses, weights=True)
            state.checkpoint = self._save(state.it, state.opt, state.sched, state.scaler, state.history)

    def finish(self, state: RunState) -> TrainResult:
        """The run's result; when the schedule is complete, the final weights, the loss plot and ``summary.json``."""
        seconds = time.perf_counter() - state.t0
        result = TrainResult(
            out_dir=self.out,
            start_iteration=state.start,
            iteration=state.it,
            completed=state.it >= self.s.iterations,
            checkpoint=state.checkpoint,
            seconds=seconds,
            it_per_s=(state.it - state.start) / max(seconds, 1e-9),
        )
        result.peak_memory_mb, memory_kind = peak_memory_mb(self.info.device)
        if result.completed and self.info.is_main:
            self._write_final(result, memory_kind)
        elif self.info.is_main:
            log.info(
                "%s: stopped after iteration %d of %d (checkpoint %s); run again with --resume to continue",
                self.title,
                state.it,
                self.s.iterations,
                state.checkpoint,
            )
        barrier(self.info)
        return result

    # ------------------------------------------------------------------------------------------- run's parts
    def _configure_backends(self) -> None:
        s = self.s
        set_determinism(s.deterministic)
        if self.info.device.type == "cuda":
            torch.backends.cudnn.benchmark = s.cudnn_benchmark and not s.deterministic
            torch.backends.cuda.matmul.allow_tf32 = not s.deterministic
            torch.backends.cudnn.allow_tf32 = not s.deterministic

    def _wrap(self) -> nn.Module:
        """The step itself, or its DDP wrapper when several processes train together."""
        if not self.info.distributed:
            return self.step
        from torch.nn.parallel import DistributedDataParallel as DDP

        dev = self.info.device
        return DDP(
            self.step,
            device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=getattr(self.step, "find_unused_parameters", False),
        )

    def _announce(self, state: RunState) -> None:
        """Log what this run trains and how, and write it to ``run.json`` (atomically)."""
        s, info, opt = self.s, self.info, state.opt
        n_params = sum(p.numel() for g in opt.param_groups for p in g["params"])
        log.info(
            "%s: %d trainable parameters in %s; iterations %d..%d, batch %d x %d process(es) x %d accumulated, "
            "device %s, AMP %s, channels_last %s",
            self.title,
            n_params,
            ", ".join(f"{g.get('name', i)} (lr {g['lr']:.3g})" for i, g in enumerate(opt.param_groups)),
            state.start,
            s.iterations,
            s.batch_size,
            info.world_size,
            s.accumulation,
            info.device,
            state.dtype or "off",
            state.channels_last,
        )
        run = {
            "title": self.title,
            "settings": _plain(asdict(s)),
            "world_size": info.world_size,
            **self._batch(),
            "device": str(info.device),
            "amp": str(state.dtype),
            "meta": _plain(self.meta),
        }
        write_text_atomic(self.out / RUN_NAME, json.dumps(run, indent=1))

    def checkpoint_bytes(self, opt: torch.optim.Optimizer) -> int:
        """About the bytes of one checkpoint: the networks' state_dicts plus Adam's two moments per trained value."""
        weights = sum(
            t.numel() * t.element_size() for net in self.step.networks.values() for t in net.state_dict().values()
        )
        moments = sum(2 * p.numel() * p.element_size() for g in opt.param_groups for p in g["params"])
        return weights + moments

    def _warn_if_disk_short(self, opt: torch.optim.Optimizer) -> None:
        """Warn at the start when the checkpoints that will be on disk at once do not fit in the space free at OUT (a
        new checkpoint is written before the oldest is removed)."""
        saves = -(-self.s.iterations // self.s.save_every) if self.s.save_every > 0 else 1  # the last one included
        at_once = min(saves, self.s.keep_checkpoints + 1) if self.s.keep_checkpoints > 0 else saves
        need, free = self.checkpoint_bytes(opt) * at_once, free_bytes(self.out)
        if need > free:
            log.warning(
                "%s: %d checkpoint(s) of about %.0f MiB each will be on disk at once, and %s has %.0f MiB free: the "
                "run will stop at a checkpoint with 'no space left' unless space is freed or keep_checkpoints lowered",
                self.title,
                at_once,
                need / at_once / 2**20,
                self.out,
                free / 2**20,
            )

    def _open_logs(self, state: RunState, resume: bool) -> None:
        resume_from = state.start if resume else None
        state.csv_log = CsvLog(self.out / CSV_NAME, self._columns(state.opt), resume_from=resume_from)
        state.tb = TensorBoardLog(self.out / TB_DIR, resume_from=resume_from)
        if self.meta:
            state.tb.text("run", "\n\n".join(f"**{k}**: {v}" for k, v in self.meta.items()))

    def _progress_bar(self, start: int) -> Any:
        from tqdm import tqdm

        return tqdm(
            total=self.s.iterations, initial=start, desc=self.title, unit="it", dynamic_ncols=True, mininterval=1.0
        )

    def _backward(self, state: RunState, batch: Any, parts: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Forward, NaN check and backward of one micro-batch (its loss divided by the ``parts`` micro-batches of
        the step, so the accumulated gradient is their mean); returns its losses and their detached values."""
        dev = self.info.device
        batch = to_device(batch, dev, state.channels_last)
        autocast = torch.autocast(dev.type, dtype=state.dtype) if state.dtype is not None else contextlib.nullcontext()
        with autocast:
            losses = state.model(batch)
        values = torch.stack([v.detach().float() for v in losses.values()])
        finite = all_reduce_mean(torch.isfinite(values).all().float().reshape(1), self.info)
        if float(finite) < 1.0:
            self._diverged(state.it, losses)
        loss = losses["loss"] / parts if parts > 1 else losses["loss"]
        state.scaler.scale(loss).backward()
        return losses, values

    def _optimise(self, state: RunState) -> dict[str, float]:
        """(Clip,) optimiser and scheduler step on the accumulated gradients; returns the learning rates this step
        used."""
        opt, scaler = state.opt, state.scaler
        if self.s.grad_clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.s.grad_clip)
        scaler.step(opt)
        scaler.update()
        lrs = {f"lr_{g.get('name', i)}": g["lr"] for i, g in enumerate(opt.param_groups)}
        state.sched.step()
        return lrs

    def _log_row(self, state: RunState, names: list[str], values: torch.Tensor, lrs: dict[str, float]) -> None:
        """The losses averaged over the processes, the learning rates and the speed since the last row, to the CSV,
        TensorBoard and the progress bar (main process)."""
        now = time.perf_counter()
        speed = (state.it - state.it_last) / max(now - state.t_last, 1e-9)
        state.t_last, state.it_last = now, state.it
        row = dict(zip(names, all_reduce_mean(values, self.info).tolist()))
        row.update(lrs)
        row["it_per_s"] = speed
        if not self.info.is_main:
            return
        state.history.append(row)
        state.csv_log.write(state.it, row)
        state.tb.write(state.it, row)
        if state.bar is not None:
            state.bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k.startswith("loss")}, refresh=False)

    def _write_final(self, result: TrainResult, memory_kind: str) -> None:
        """The final weights (official layout), the loss plot and ``summary.json``, each written atomically."""
        for name, net in self.step.networks.items():
            path = self.out / f"{name}.pth"
            saved = checkpoint_file(result.checkpoint, name, result.iteration)
            if saved is not None:  # the same bytes: the final iteration is always checkpointed
                link_or_copy(saved, path)
            else:
                save_weights(path, plain_state_dict(net))
            result.weights[name] = path
        if (self.out / CSV_NAME).is_file():
            plot_loss_curve(self.out / CSV_NAME, self.out / PLOT_NAME, title=self.title)
        summary = {
            "title": self.title,
            "iterations": result.iteration,
            "iterations_this_run": result.iteration - result.start_iteration,
            "seconds_this_run": round(result.seconds, 2),
            "it_per_s_this_run": round(result.it_per_s, 4),
            "peak_memory_mb": round(result.peak_memory_mb, 1),
            "peak_memory": memory_kind,
            **self._batch(),
            "weights": {k: str(v) for k, v in result.weights.items()},
            "meta": _plain(self.meta),
        }
        write_text_atomic(self.out / SUMMARY_NAME, json.dumps(summary, indent=1))
        log.info(
            "%s: finished %d iterations (%.1f s this run, %.3g it/s); weights: %s",
            self.title,
            result.iteration,
            result.seconds,
            result.it_per_s,
            ", ".join(map(str, result.weights.values())),
        )

    def _batch(self) -> dict[str, int]:
        """The batch of an optimiser step: processes, per-process batch, accumulation and their product."""
        s, world = self.s, self.info.world_size
        return {
            "processes": world,
            "batch_size": s.batch_size,
            "accumulation": s.accumulation,
            "global_batch": s.batch_size * world * s.accumulation,
        }

    def _fingerprint(self) -> str:
        """What must match for a resume to continue the same run: settings (run-only ones aside) and stage meta."""
        keep = {k: v for k, v in asdict(self.s).items() if k not in RUN_ONLY}
        return json.dumps({"settings": _plain(keep), "meta": _plain(self.meta), "title": self.title}, sort_keys=True)

    def _columns(self, opt: torch.optim.Optimizer) -> list[str]:
        names = list(getattr(self.step, "loss_names", ("loss",)))
        return [*names, *(f"lr_{g.get('name', i)}" for i, g in enumerate(opt.param_groups)), "it_per_s"]

    def _diverged(self, it: int, losses: Mapping[str, torch.Tensor], weights: bool = False) -> None:
        ckpt = latest_checkpoint(self.out)
        vals = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in losses.items())
        what = "a weight became NaN/inf" if weights else "the loss is NaN/inf"
        kept = f"the last good checkpoint is kept: {ckpt}" if ckpt is not None else "no checkpoint had been saved yet"
        raise TrainingDiverged(
            f"{self.title}: {what} at iteration {it + (0 if weights else 1)} ({vals}); training stopped, {kept}. "
            "Lower the learning rate, turn AMP off (--amp off) or check the data, then run again "
            "(--resume continues from that checkpoint)"
        )


def _groups(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` items (the last one shorter when the items run out)."""
    group: list[Any] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def peak_memory_mb(dev: torch.device) -> tuple[float, str]:
    """Peak memory of this run: CUDA max allocated on a GPU, else the process's peak resident set size."""
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20, "CUDA max allocated"
    try:
        import resource
    except ImportError:  # not on Unix
        return 0.0, "not measured"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS"


def _plain(obj: Any) -> Any:
    """JSON-friendly copy (tuples → lists, paths → strings)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
