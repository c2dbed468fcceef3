"""The training stages, from config to finished weights: CPNet stage 1 (images), CPNet stage 2 (video frames),
the WARN warm-up and SSNet joint training. Each builds its networks, says in the log where their weights come from,
and runs the shared :class:`~svcnet.train.loop.TrainLoop` into its own folder (checkpoints, logs, final
``<network>.pth``)."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from svcnet.data.atomic import link_or_copy
from svcnet.errors import ConfigError, InputError
from svcnet.ops.window import HALF, WINDOW
from svcnet.train.compute import cpu_provenance
from svcnet.train.distributed import DistInfo
from svcnet.train.init_weights import load_into, official_normal_init, resolve_init
from svcnet.train.loop import LoopSettings, TrainLoop, TrainResult
from svcnet.train.rng import seed_everything
from svcnet.train.settings import StageSettings, TrainSettings, batch_plan, to_iterations

log = logging.getLogger(__name__)


def loop_settings(
    ts: TrainSettings, st: StageSettings, n_items: int, info: DistInfo, name: str = "stage", **overrides: Any
) -> LoopSettings:
    """The loop's iteration-based settings of stage ``st`` (``train.<name>``): an iteration is one optimiser step on
    the global batch (batch per process x processes x accumulation), epochs are converted with it."""
    plan = batch_plan(name, st, info.world_size)
    if info.is_main and plan.accumulation > 1:
        log.info(
            "%s: global batch %d = %d per process x %d process(es) x %d accumulated micro-batches",
            name,
            plan.global_batch,
            plan.batch_size,
            plan.processes,
            plan.accumulation,
        )
    conv = lambda v: to_iterations(st, v, n_items, plan.global_batch)  # noqa: E731
    s = LoopSettings(
        iterations=conv(st.duration),
        batch_size=st.batch_size,
        accumulation=plan.accumulation,
        save_every=conv(st.save_every),
        log_every=max(1, st.log_every),
        lr_step=conv(st.lr_step),
        lr_gamma=st.lr_gamma,
        amp=ts.amp,
        channels_last=ts.channels_last,
        deterministic=ts.deterministic,
        seed=ts.seed,
        num_workers=ts.num_workers,
        keep_checkpoints=ts.keep_checkpoints,
    )
    return replace(s, **{k: v for k, v in overrides.items() if v is not None})


# ------------------------------------------------------------------------------------------------------------ CPNet


def build_cpnet(ts: TrainSettings, start_from: Path | None, what: str) -> torch.nn.Module:
    """CPNet initialised from ``start_from`` (an earlier stage / official checkpoint), else the ImageNet VGG16 gray
    branch when ``train.init.vgg16`` is given, else from scratch — one log line says which."""
    from svcnet.models.checkpoint import load_official, load_state_dict_file
    from svcnet.models.cpnet import CPNet

    net = CPNet()
    if start_from is not None:
        load_official(net, start_from, what="CPNet")
        log.info("init: %s: CPNet (all weights) from %s", what, start_from)
        return net
    vgg = resolve_init("vgg16", ts.init.vgg16)
    if vgg is not None:
        features = {k: v for k, v in load_state_dict_file(vgg).items() if k.startswith("features.")}
        load_official(net.vgg, features, what="VGG16 features")
        log.info("init: %s: CPNet VGG16 gray branch from ImageNet weights %s", what, vgg)
        log.info("init: %s: the rest of CPNet from PyTorch's default initialisation (as the official trainer)", what)
    else:
        log.info(
            "init: %s: CPNet from scratch (PyTorch default initialisation; no ImageNet VGG16 given — set "
            "train.init.vgg16 to a file or `registry` to start the gray branch from ImageNet weights)",
            what,
        )
    return net


def configured_folder(key: str, value: str, needed_by: str = "") -> Path:
    """The existing folder of config value ``key`` (a path or ``registry:<name>``); InputError naming the key, the
    folder and how to get it when it is missing."""
    from svcnet.sources import get_source, registry_ref, resolve_registry_path

    path = resolve_registry_path(value)
    if path.is_dir():
        return path
    name = registry_ref(value)
    hint = f" To get it: {get_source(name).how_to_get()}" if name else ""
    why = f" ({needed_by} needs it; or set seg_target: none)" if needed_by else ""
    raise InputError(f"{key}: folder not found: {path}{why}.{hint}")


def train_cpnet_stage(
    ts: TrainSettings,
    stage: str,
    data: Path,
    out_dir: Path,
    info: DistInfo,
    start_from: Path | None = None,
    resume: bool = False,
    **overrides: Any,
) -> TrainResult:
    """CPNet stage ``cpnet1`` or ``cpnet2`` on ``data`` (a packed .lmdb, or an image folder for cpnet1)."""
    from svcnet.train.cpnet_data import CPNetImages
    from svcnet.train.cpnet_step import CPNetTrainStep
    from svcnet.train.scribble_fns import image_scribble_fn

    st = ts.stage(stage)
    images = stage == "cpnet1" and bool(st.images)
    source = configured_folder(f"train.{stage}.images", st.images) if images else data
    saliency = None
    if images and st.image_saliency and st.seg_target != "none" and st.lambda_seg > 0:
        saliency = configured_folder(f"train.{stage}.image_saliency", st.image_saliency, "the seg loss (lambda_seg)")
    ds = CPNetImages(
        source,
        st.size,
        image_scribble_fn(ts.scribbles),
        seed=ts.seed,
        crop=st.crop,
        seg=st.seg_target,
        saliency_root=saliency,
    )
    lambda_seg = st.lambda_seg
    if lambda_seg > 0 and ds.seg_coverage == 0:
        log.warning("%s: no saliency maps or masks in %s: the seg loss is off for this run", stage, source)
    seed_everything(ts.seed)  # the same initial weights in every process and run
    net = build_cpnet(ts, start_from, stage)
    step = CPNetTrainStep(net, lr=st.lr, lambda_l1=st.lambda_l1, lambda_seg=lambda_seg)
    ls = loop_settings(ts, st, len(ds), info, stage, **overrides)
    title = f"CPNet {'stage 1 (images)' if stage == 'cpnet1' else 'stage 2 (video frames)'}"
    meta = {
        **cpu_provenance(ts.cpu_isa),
        "stage": stage,
        "data": str(source),
        "images": len(ds),
        "size": list(st.size),
        "crop": list(st.crop),
        "seg_coverage": round(ds.seg_coverage, 3),
        "start_from": str(start_from) if start_from else "scratch/vgg16",
    }
    log.info(
        "%s: %d images from %s, size %s, %d iterations (%s)",
        title,
        len(ds),
        source,
        st.size,
        ls.iterations,
        f"{st.duration} {st.unit}s",
    )
    return TrainLoop(step, ds, ls, out_dir, info, title=title, meta=meta).run(resume)


def train_cpnet(
    ts: TrainSettings,
    data: Path,
    out_dir: Path,
    info: DistInfo,
    resume: bool = False,
    stages: tuple[str, ...] = ("cpnet1", "cpnet2"),
    **overrides: Any,
) -> Path | None:
    """Stage 1 then stage 2 (each skipped when its duration is 0); ``out_dir/cpnet.pth`` = the last stage's weights.
    Returns that path, or None when a run stopped early (``stop_after``)."""
    start = resolve_init("cpnet", ts.init.cpnet)
    if start is not None:
        log.info("init: CPNet fine-tuned from the official checkpoint %s", start)
    done_any = False
    for stage in stages:
        if ts.stage(stage).duration <= 0:
            log.info("%s: duration 0, skipped", stage)
            continue
        if stage == "cpnet1" and start is not None:
            log.info("cpnet1: skipped, CPNet starts from the checkpoint given in train.init.cpnet")
            continue
        res = train_cpnet_stage(ts, stage, data, out_dir / stage, info, start_from=start, resume=resume, **overrides)
        if not res.completed:
            return None
        start, done_any = res.weights.get("cpnet", out_dir / stage / "cpnet.pth"), True
    if start is None:
        raise ConfigError("train: no CPNet stage has a duration and train.init.cpnet is not given: nothing to train")
    final = out_dir / "cpnet.pth"
    if info.is_main:
        link_or_copy(start, final)
        if not done_any:
            log.info("CPNet: no stage trained; %s is a copy of %s", final, start)
    return final


# ------------------------------------------------------------------------------------------------------------ SSNet
def build_ssnet(ts: TrainSettings, st: StageSettings, warn_from: Path | None = None) -> torch.nn.Module:
    """SSNet as the official trainer starts it: every conv N(0, 0.02), then WARN, SR, CorrNet VGG19 and non-local
    net from their files when given (WARN: ``warn_from``, the warm-up's result, else ``train.init.warn``). WARN is
    frozen when its weights are given (else trained jointly); CorrNet is always frozen (its WLS/uint8 post-filter
    passes no gradient)."""
    from svcnet.models.ssnet import SSNet

    net = SSNet(sr_scales=(2,), freeze_pretrained=False)
    official_normal_init(net)
    log.info("init: SSNet: every conv N(0, 0.02) (official weights_init); combination net stays so (as official)")
    for name, module, key in (
        ("warn", net.warn, None),
        ("srnet", net.srnet, None),
        ("corrnet_vgg19", net.corr.vggnet, None),
        ("corrnet_nonlocal", net.corr.nonlocal_net, None),
    ):
        path = warn_from if name == "warn" and warn_from is not None else resolve_init(name, getattr(ts.init, name))
        if path is not None:
            load_into(module, path, f"ssnet: {name}", key=key)
        else:
            log.info(
                "init: ssnet: %s not given (train.init.%s): starts from N(0, 0.02)%s",
                name,
                name,
                {
                    "warn": " and is trained jointly (train.warn.duration 0: no warm-up)",
                    "srnet": " and is trained by the SR loss (lambda_sr)",
                    "corrnet_vgg19": " and stays frozen (the long-range branch is then uninformative)",
                    "corrnet_nonlocal": " and stays frozen (the long-range branch is then uninformative)",
                }[name],
            )
    net.corr.requires_grad_(False)
    if ts.init.warn or warn_from is not None:
        net.warn.requires_grad_(False)
    if not ts.init.srnet and st.lambda_sr <= 0:
        raise ConfigError(
            "train.ssnet: the SR net has no pre-trained weights (train.init.srnet) and lambda_sr is 0: "
            "it would get no gradient and stay random; give train.init.srnet or set lambda_sr > 0"
        )
    return net


def flow_backend_name(ts: TrainSettings, st: StageSettings, stage: str = "ssnet") -> str:
    """``pwcnet`` or ``dis`` (``auto``: PWC-Net when its weights are given) for ``train.<stage>.flow``."""
    if st.flow == "auto":
        return "pwcnet" if ts.init.pwcnet else "dis"
    if st.flow not in ("pwcnet", "dis"):
        raise ConfigError(f"train.{stage}.flow must be auto, pwcnet or dis, not {st.flow!r}")
    if st.flow == "pwcnet" and not ts.init.pwcnet:
        raise ConfigError(f"train.{stage}.flow is pwcnet but train.init.pwcnet is not given (a file or `registry`)")
    return st.flow


def train_ssnet(
    ts: TrainSettings,
    data: Path,
    cpnet_path: Path | None,
    out_dir: Path,
    info: DistInfo,
    resume: bool = False,
    **overrides: Any,
) -> TrainResult:
    """SSNet joint training on 7-frame windows of ``data`` (a packed .lmdb), CPNet from ``cpnet_path``."""
    from svcnet.train.scribble_fns import window_scribble_fn
    from svcnet.train.ssnet_data import SSNetWindows
    from svcnet.train.ssnet_step import SSNetStep

    st = ts.ssnet
    if st.window != WINDOW:
        raise ConfigError(f"train.ssnet.window must be {WINDOW} (SSNet reads frames t-{HALF}..t+{HALF})")
    cp = cpnet_path or resolve_init("cpnet", ts.init.cpnet)
    if cp is None:
        raise ConfigError(
            "SSNet training needs a CPNet: train one first (svcnet train cpnet) and pass --cpnet, or "
            "set train.init.cpnet"
        )
    warn_from = None
    if not ts.init.warn and ts.warn.duration > 0:
        run_only = {k: overrides[k] for k in ("amp", "progress") if k in overrides}
        warm = train_warn(ts, data, out_dir / "warn", info, resume=resume, **run_only)
        warn_from = warm.weights.get("warn", out_dir / "warn" / "warn.pth")
    seed_everything(ts.seed)
    cpnet = build_cpnet(ts, Path(cp), "ssnet")
    ssnet = build_ssnet(ts, st, warn_from)
    backend, direction, flow_fn = _window_flow(ts, st, "ssnet")
    ds = SSNetWindows(
        data,
        st.size,
        window_scribble_fn(ts.scribbles),
        seed=ts.seed,
        window=st.window,
        crop=st.crop,
        with_sr=st.lambda_sr > 0,
        flow="dis" if backend == "dis" else "net",
        flow_direction=direction,
    )
    step = SSNetStep(
        cpnet,
        ssnet,
        lr_ssnet=st.lr,
        lr_cpnet=st.lr_cpnet,
        lambda_l1=st.lambda_l1,
        lambda_sr=st.lambda_sr,
        lambda_short=st.lambda_short,
        lambda_long=st.lambda_long,
        mask_para=st.mask_para,
        flow_fn=flow_fn,
    )
    if flow_fn is not None:
        step.pwc = flow_fn.net  # moved to the device with the step; not saved, not trained
    ls = loop_settings(ts, st, len(ds), info, "ssnet", **overrides)
    meta = {
        **cpu_provenance(ts.cpu_isa),
        "stage": "ssnet",
        "data": str(data),
        "clips": len(ds),
        "size": list(st.size),
        "crop": list(st.crop),
        "cpnet": str(cp),
        "flow": f"{backend} ({direction})",
        "lambda_sr": st.lambda_sr,
        "lambda_short": st.lambda_short,
        "lambda_long": st.lambda_long,
        "lr_cpnet": st.lr_cpnet,
    }
    log.info(
        "SSNet joint training: %d clips from %s, size %s, %d iterations (%s)",
        len(ds),
        data,
        st.size,
        ls.iterations,
        f"{st.duration} {st.unit}s",
    )
    return TrainLoop(step, ds, ls, out_dir, info, title="SSNet joint training", meta=meta).run(resume)


def _window_flow(ts: TrainSettings, st: StageSettings, stage: str) -> tuple[str, str, Any]:
    """(backend, direction, flow_fn) of a window stage: PWC-Net (frozen, run in the step) or DIS (in the data
    workers, flow_fn None); the direction is svcnet.infer.flow's for that backend."""
    backend = flow_backend_name(ts, st, stage)
    flow_fn = None
    if backend == "pwcnet":
        from svcnet.models.pwcnet import PWCNet, pwc_estimate

        pwc = PWCNet()
        load_into(pwc, resolve_init("pwcnet", ts.init.pwcnet), f"{stage}: PWC-Net (frozen)", key="state_dict")
        pwc.requires_grad_(False).eval()
        flow_fn = _PwcFlow(pwc, pwc_estimate)
    direction = "official" if backend == "pwcnet" else "aligned"
    log.info("%s: flows from %s (%s convention, as svcnet.infer.flow)", stage, backend, direction)
    return backend, direction, flow_fn


def train_warn(
    ts: TrainSettings, data: Path, out_dir: Path, info: DistInfo, resume: bool = False, **overrides: Any
) -> TrainResult:
    """WARN warm-up (:mod:`svcnet.train.warn_step`) on the 7-frame windows of ``data``; ``out_dir/warn.pth``."""
    from svcnet.models.warn import WarpArtifactRemovalNet
    from svcnet.train.ssnet_data import SSNetWindows
    from svcnet.train.warn_step import WarnWarmupStep

    st = ts.warn
    backend, direction, flow_fn = _window_flow(ts, st, "warn")
    ds = SSNetWindows(
        data,
        st.size,
        None,
        seed=ts.seed,
        window=ts.ssnet.window,
        crop=st.crop,
        flow="dis" if backend == "dis" else "net",
        flow_direction=direction,
        warn_only=True,
    )
    seed_everything(ts.seed)
    warn = WarpArtifactRemovalNet()
    official_normal_init(warn)
    torch.nn.init.zeros_(warn.up3.conv2d.weight)  # output = input − tanh(0): WARN starts as the identity
    log.info(
        "init: warn: every conv N(0, 0.02) but the last, zero (WARN starts as the identity); warm-up: "
        "neighbours' ground-truth ab warped onto the centre frame -> its ab (the official warm-up code is "
        "unpublished)"
    )
    step = WarnWarmupStep(warn, lr=st.lr, mask_para=st.mask_para, flow_fn=flow_fn)
    if flow_fn is not None:
        step.pwc = flow_fn.net
    ls = loop_settings(ts, st, len(ds), info, "warn", **overrides)
    meta = {
        **cpu_provenance(ts.cpu_isa),
        "stage": "warn",
        "data": str(data),
        "clips": len(ds),
        "size": list(st.size),
        "crop": list(st.crop),
        "flow": f"{backend} ({direction})",
    }
    log.info(
        "WARN warm-up: %d clips from %s, size %s, %d iterations (%s)",
        len(ds),
        data,
        st.size,
        ls.iterations,
        f"{st.duration} {st.unit}s",
    )
    return TrainLoop(step, ds, ls, out_dir, info, title="WARN warm-up", meta=meta).run(resume)


class _PwcFlow:
    """flow(a, b) = pwc_estimate(first=a, second=b) on the replicated lightness (official convention)."""

    def __init__(self, net: torch.nn.Module, estimate: Any) -> None:
        self.net, self.estimate = net, estimate

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.estimate(self.net, a, b)


def data_path(path: str | os.PathLike) -> Path:
    """A packed training set (``<split>.lmdb``); InputError naming the command that makes it when missing."""
    p = Path(path)
    if not (p / "data.mdb").is_file():
        raise InputError(f"training data not found: {p} (pack it first: svcnet pack data/<profile>/train --out {p})")
    return p
