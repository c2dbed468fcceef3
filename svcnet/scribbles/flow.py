"""Pairwise optical flow for carrying scribble points: one small interface, OpenCV DIS now, PWC-Net pluggable.

A :class:`FlowEstimator` takes two uint8 RGB frames of equal size and returns an H×W×2 float32 flow in pixels
(x then y) with ``first(p) ≈ second(p + flow(p))`` — the convention of :func:`svcnet.ops.flow_dis.dis_flow` and of
:func:`svcnet.models.pwcnet.pwc_estimate`. A point at ``p`` in ``first`` is therefore found at ``p + flow(p)`` in
``second``. New backends only need such a function: ``FlowEstimator("name", fn)``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np

from svcnet.errors import SvcnetError

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
BACKENDS = ("dis", "pwcnet")


@dataclasses.dataclass(frozen=True)
class FlowEstimator:
    """A named pairwise flow function (see the module docstring for the convention)."""

    name: str
    estimate: FlowFn

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        if first.shape != second.shape:
            raise ValueError(f"frames differ in size: {first.shape} vs {second.shape}")
        flow = np.asarray(self.estimate(first, second), dtype=np.float32)
        if flow.shape != (*first.shape[:2], 2):
            raise ValueError(f"flow backend {self.name} returned shape {flow.shape} for frames {first.shape}")
        return flow


def dis_estimator(preset: str = "medium") -> FlowEstimator:
    """OpenCV DIS on the luma of the frames (weight-free; deterministic)."""
    from svcnet.ops.flow_dis import PRESETS, dis_flow

    if preset not in PRESETS:
        raise SvcnetError(f"unknown DIS preset {preset!r}; choose one of {', '.join(sorted(PRESETS))}")
    return FlowEstimator(f"dis-{preset}", lambda a, b: dis_flow(a, b, preset=preset))


def pwc_estimator(net, device=None, name: str = "pwcnet") -> FlowEstimator:
    """PWC-Net through ``svcnet.models.pwcnet.pwc_estimate(net, first, second)`` on RGB/255 (as the official GCS)."""
    import torch

    from svcnet.models.pwcnet import pwc_estimate

    dev = torch.device(device) if device is not None else next(net.parameters()).device

    def estimate(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        a = torch.from_numpy(first).permute(2, 0, 1).unsqueeze(0).to(dev, torch.float32) / 255.0
        b = torch.from_numpy(second).permute(2, 0, 1).unsqueeze(0).to(dev, torch.float32) / 255.0
        with torch.no_grad():
            flow = pwc_estimate(net, a, b)
        return flow[0].permute(1, 2, 0).float().cpu().numpy()

    return FlowEstimator(name, estimate)


def make_flow_estimator(
    backend: str = "dis",
    dis_preset: str = "medium",
    pwc_weights: str | os.PathLike | None = None,
    device: str = "auto",
    gcs: bool = False,
) -> FlowEstimator:
    """The estimator named ``backend`` (``dis`` | ``pwcnet``); PWC-Net needs its verified weight file. ``gcs``:
    PWC-Net as the official scribble generator runs it (:class:`svcnet.models.pwcnet.PWCNet` ``gcs``)."""
    if backend == "dis":
        return dis_estimator(dis_preset)
    if backend == "pwcnet":
        import torch

        from svcnet.models.checkpoint import load_official
        from svcnet.models.pwcnet import PWCNet

        if pwc_weights is None:
            raise SvcnetError(
                "flow backend pwcnet needs the PWC-Net weights (pwcNet-default.pytorch): run "
                "`svcnet fetch pwcnet` or pass their path"
            )
        dev = torch.device(
            "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
        )
        net = load_official(PWCNet(gcs=gcs), pwc_weights, what="PWC-Net").to(dev).eval()
        return pwc_estimator(net, dev, "pwcnet-gcs" if gcs else "pwcnet")
    raise SvcnetError(f"unknown flow backend {backend!r}; choose one of {', '.join(BACKENDS)}")
