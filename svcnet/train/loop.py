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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from svcnet.data.atomic import write_text_atomic
from svcnet.errors import SvcnetError
from svcnet.train.checkpoints import (
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
        sampler = IterationSampler(start, self.s.iterations, self.s.batch_size, self.info.world_size, self.info.rank)
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
        s, info, dev = self.s, self.info, self.info.device
        self.out.mkdir(parents=True, exist_ok=True)
        set_determinism(s.deterministic)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = s.cudnn_benchmark and not s.deterministic
            torch.backends.cuda.matmul.allow_tf32 = not s.deterministic
            torch.backends.cudnn.allow_tf32 = not s.deterministic
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
        model: nn.Module = self.step
        if info.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(
                self.step,
                device_ids=[dev.index] if dev.type == "cuda" else None,
                find_unused_parameters=getattr(self.step, "find_unused_parameters", False),
            )
        model.train()
        n_params = sum(p.numel() for g in opt.param_groups for p in g["params"])
        if info.is_main:
            log.info(
                "%s: %d trainable parameters in %s; iterations %d..%d, batch %d x %d process(es), device %s, "
                "AMP %s, channels_last %s",
                self.title,
                n_params,
                ", ".join(f"{g.get('name', i)} (lr {g['lr']:.3g})" for i, g in enumerate(opt.param_groups)),
                start,
                s.iterations,
                s.batch_size,
                info.world_size,
                dev,
                dtype or "off",
                cl,
            )
            (self.out / "run.json").write_text(
                json.dumps(
                    {
                        "title": self.title,
                        "settings": _plain(asdict(s)),
                        "world_size": info.world_size,
                        "device": str(dev),
                        "amp": str(dtype),
                        "meta": _plain(self.meta),
                    },
                    indent=1,
                )
            )
        csv_log = tb = None
        if info.is_main:
            cols = self._columns(opt)
            csv_log = CsvLog(self.out / CSV_NAME, cols, resume_from=start if resume else None)
            tb = TensorBoardLog(self.out / TB_DIR, resume_from=start if resume else None)
            if self.meta:
                tb.text("run", "\n\n".join(f"**{k}**: {v}" for k, v in self.meta.items()))
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        stop = s.iterations if s.stop_after <= 0 else min(s.iterations, max(start, s.stop_after))
        it = start
        history: list[dict[str, float]] = []
        t0 = time.perf_counter()
        t_last, it_last = t0, start
        bar = None
        if info.is_main and s.progress:
            from tqdm import tqdm

            bar = tqdm(
                total=s.iterations, initial=start, desc=self.title, unit="it", dynamic_ncols=True, mininterval=1.0
            )
        try:
            if start < stop:
                for batch in self._loader(start):
                    batch = to_device(batch, dev, cl)
                    autocast = torch.autocast(dev.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
                    with autocast:
                        losses = model(batch)
                    loss = losses["loss"]
                    values = torch.stack([v.detach().float() for v in losses.values()])
                    finite = torch.isfinite(values).all().float().reshape(1)
                    finite = all_reduce_mean(finite, info)
                    if float(finite) < 1.0:
                        self._diverged(it, losses)
                    opt.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    if s.grad_clip > 0:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], s.grad_clip)
                    scaler.step(opt)
                    scaler.update()
                    lrs = {f"lr_{g.get('name', i)}": g["lr"] for i, g in enumerate(opt.param_groups)}
                    sched.step()
                    it += 1
                    if it % s.log_every == 0 or it == stop:
                        now = time.perf_counter()
                        speed = (it - it_last) / max(now - t_last, 1e-9)
                        t_last, it_last = now, it
                        mean = all_reduce_mean(values, info).tolist()
                        row = {k: v for k, v in zip(losses.keys(), mean)}
                        row.update(lrs)
                        row["it_per_s"] = speed
                        if info.is_main:
                            history.append(row)
                            csv_log.write(it, row)
                            tb.write(it, row)
                            if bar is not None:
                                bar.set_postfix(
                                    {k: f"{v:.4g}" for k, v in row.items() if k.startswith("loss")}, refresh=False
                                )
                    if bar is not None:
                        bar.update(1)
                    if (s.save_every > 0 and it % s.save_every == 0) or it == s.iterations:
                        if not _all_finite(self.step):
                            self._diverged(it, losses, weights=True)
                        ckpt = self._save(it, opt, sched, scaler, history)
                    if it >= stop:
                        break
        finally:
            if bar is not None:
                bar.close()
            if csv_log is not None:
                csv_log.close()
            if tb is not None:
                tb.close()
        seconds = time.perf_counter() - t0
        result = TrainResult(
            out_dir=self.out,
            start_iteration=start,
            iteration=it,
            completed=it >= s.iterations,
            checkpoint=ckpt,
            seconds=seconds,
            it_per_s=(it - start) / max(seconds, 1e-9),
        )
        result.peak_memory_mb, memory_kind = peak_memory_mb(dev)
        if result.completed and info.is_main:
            for name, net in self.step.networks.items():
                path = self.out / f"{name}.pth"
                save_weights(path, plain_state_dict(net))
                result.weights[name] = path
            if (self.out / CSV_NAME).is_file():
                plot_loss_curve(self.out / CSV_NAME, self.out / PLOT_NAME, title=self.title)
            write_text_atomic(
                self.out / "summary.json",
                json.dumps(
                    {
                        "title": self.title,
                        "iterations": it,
                        "iterations_this_run": it - start,
                        "seconds_this_run": round(seconds, 2),
                        "it_per_s_this_run": round(result.it_per_s, 4),
                        "peak_memory_mb": round(result.peak_memory_mb, 1),
                        "peak_memory": memory_kind,
                        "weights": {k: str(v) for k, v in result.weights.items()},
                        "meta": _plain(self.meta),
                    },
                    indent=1,
                ),
            )
            log.info(
                "%s: finished %d iterations (%.1f s this run, %.3g it/s); weights: %s",
                self.title,
                it,
                seconds,
                result.it_per_s,
                ", ".join(map(str, result.weights.values())),
            )
        elif info.is_main:
            log.info(
                "%s: stopped after iteration %d of %d (checkpoint %s); run again with --resume to continue",
                self.title,
                it,
                s.iterations,
                ckpt,
            )
        barrier(info)
        return result

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
