"""The ``train:`` section of config/config.yaml as frozen dataclasses (stages ``cpnet1``, ``cpnet2``, ``warn``
(WARN warm-up) and ``ssnet``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from svcnet.errors import ConfigError
from svcnet.ops.window import WINDOW

STAGES = ("cpnet1", "cpnet2", "warn", "ssnet")


@dataclass(frozen=True)
class InitFiles:
    """Weight files to start from (None = not given). Paths are relative to the working directory."""

    vgg16: str | None = None  # ImageNet VGG16 (torchvision ``features.N`` keys) for CPNet's gray branch
    cpnet: str | None = None  # official CPNet_VGG16_Seg checkpoint: stage 2 / SSNet fine-tune from it
    warn: str | None = None
    srnet: str | None = None
    corrnet_vgg19: str | None = None
    corrnet_nonlocal: str | None = None
    pwcnet: str | None = None


@dataclass(frozen=True)
class ScribbleSettings:
    """Random training scribbles (docs/official.md §3.3): probability ``prob``, 0..max_points-1 ``width`` squares."""

    prob: float = 0.5
    max_points: int = 40
    width: int = 5


@dataclass(frozen=True)
class StageSettings:
    """One training stage. ``duration``, ``lr_step`` and ``save_every`` are counted in ``unit`` (epoch|iteration)."""

    unit: str = "iteration"
    duration: int = 0  # 0 = skip the stage
    batch_size: int = 1  # per process
    global_batch: int = 0  # samples per optimiser step over all processes (0 = batch_size x processes)
    size: tuple[int, ...] = (256, 448)  # network input H, W
    crop: tuple[int, ...] = ()  # region (H, W) cut from each packed frame before resizing to `size`; () = whole frame
    lr: float = 1e-4  # CPNet lr (cpnet1/cpnet2), WARN lr (warn), SSNet lr (ssnet)
    lr_cpnet: float = 1e-6  # ssnet only: CPNet fine-tuned jointly at this lr (0 = CPNet frozen)
    lr_step: int = 0
    lr_gamma: float = 0.5
    save_every: int = 0
    log_every: int = 1
    lambda_l1: float = 1.0
    lambda_seg: float = 0.1  # cpnet stages: weight of the L1 seg-map loss
    seg_target: str = "auto"  # cpnet stages: auto (saliency, else masks) | saliency | masks | none
    lambda_sr: float = 0.0  # ssnet: L1 of the x2 SR output vs the 2x ground truth (official: computed, not used)
    lambda_short: float = 0.0  # ssnet: short-term temporal loss (official: weight 0)
    lambda_long: float = 0.0  # ssnet: long-term temporal loss (official: weight 0)
    window: int = WINDOW  # ssnet: frames per clip window
    flow: str = "auto"  # ssnet: pwcnet | dis | auto (pwcnet when its weights are given)
    mask_para: float = 200.0
    images: str | None = None  # cpnet1: folder of training images instead of the packed frames (paper: ImageNet)
    image_saliency: str | None = None  # cpnet1: saliency maps with the same relative paths as `images`


@dataclass(frozen=True)
class TrainSettings:
    """The whole ``train:`` section."""

    processes: int = 1  # training processes the DAG launches on one node (torchrun; one per GPU)
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = True
    deterministic: bool = False
    threads: int = 0  # CPU threads per process (0 = OMP_NUM_THREADS, else one per core; shared under torchrun)
    cpu_isa: str = "native"  # native | avx2 (svcnet.train.compute)
    seed: int = 0
    num_workers: int = 2
    keep_checkpoints: int = 2
    init: InitFiles = field(default_factory=InitFiles)
    scribbles: ScribbleSettings = field(default_factory=ScribbleSettings)
    cpnet1: StageSettings = field(default_factory=StageSettings)
    cpnet2: StageSettings = field(default_factory=StageSettings)
    warn: StageSettings = field(default_factory=StageSettings)  # WARN warm-up before SSNet (when init.warn is null)
    ssnet: StageSettings = field(default_factory=StageSettings)

    def stage(self, name: str) -> StageSettings:
        if name not in STAGES:
            raise ConfigError(f"unknown training stage {name!r}; choose one of {', '.join(STAGES)}")
        return getattr(self, name)


def to_iterations(stage: StageSettings, value: int, n_items: int, global_batch: int) -> int:
    """``value`` in the stage's unit as iterations (an epoch = ceil(items / global batch) iterations)."""
    if stage.unit == "iteration":
        return int(value)
    if stage.unit == "epoch":
        return int(value) * max(1, math.ceil(n_items / global_batch))
    raise ConfigError(f"train: unit must be 'epoch' or 'iteration', not {stage.unit!r}")


@dataclass(frozen=True)
class BatchPlan:
    """How a stage's global batch is made: ``batch_size`` per process x ``processes`` x ``accumulation``
    micro-batches (gradient accumulation) per optimiser step."""

    batch_size: int
    processes: int
    accumulation: int

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.processes * self.accumulation


def batch_plan(name: str, stage: StageSettings, processes: int) -> BatchPlan:
    """The batch plan of stage ``name`` run by ``processes`` processes: ``global_batch`` (0: one micro-batch per
    process) divided by ``batch_size`` x ``processes`` gives the accumulation; ConfigError when it does not divide."""
    per_step = stage.batch_size * processes
    if stage.global_batch <= 0:
        return BatchPlan(stage.batch_size, processes, 1)
    if stage.global_batch % per_step:
        raise ConfigError(
            f"train.{name}.global_batch is {stage.global_batch}, not a multiple of batch_size {stage.batch_size} x "
            f"{processes} process(es) = {per_step}: set train.processes or train.{name}.batch_size so that their "
            "product divides the global batch (the rest is made by gradient accumulation)"
        )
    return BatchPlan(stage.batch_size, processes, stage.global_batch // per_step)
