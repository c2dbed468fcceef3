"""WARN warm-up (docs/official.md §3.4): pre-train the warp-artifact-removal net before SSNet's joint training.

The official release ships WARN pre-trained and frozen (``Warp_Artifact_Removal_Net_256p_in_epoch2000_bs16.pth``) but
not the code that made it. Here WARN learns its job on the SSNet training windows: each neighbour's ground-truth ab,
backward-warped onto the centre frame by the window's flow, with its visibility mask, must give the centre's ab
(L1). WARN starts as the identity (its last convolution zero: out = x − tanh(0)); from the official N(0, 0.02) its
first outputs are far worse than the plain warp it has to improve on (instance norm gives the last layer unit-scale
inputs) and stay worse for many iterations. Without this step WARN would start random and, trained jointly, drift
into a feature extractor whose outputs are no longer colours, so the combination net would get no aligned neighbours
to average (figures: docs/measurements.md §7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from svcnet.ops.warp import warp_official
from svcnet.train.loop import TrainStep
from svcnet.train.ssnet_step import FlowFn, visibility_mask, window_flows_fn


class WarnWarmupStep(TrainStep):
    """L1(WARN(warp(ab_k → c), mask_k), ab_c) averaged over the window's neighbours k of its centre c."""

    loss_names = ("loss", "loss_warped")

    def __init__(self, warn: nn.Module, lr: float, mask_para: float = 200.0, flow_fn: FlowFn | None = None) -> None:
        super().__init__()
        self.warn = warn
        self.networks = {"warn": warn}
        self.lr, self.mask_para, self.flow_fn = lr, mask_para, flow_fn

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"name": "warn", "params": [p for p in self.warn.parameters() if p.requires_grad], "lr": self.lr}]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        l, ab = batch["l"].float(), batch["ab"].float()
        t = l.shape[1]
        c = t // 2
        flow = window_flows_fn(batch, l, self.flow_fn)
        xs, masks = [], []
        for k in range(t):
            if k == c:
                continue
            fl = flow(k, c)
            xs.append(warp_official(ab[:, k], fl))
            masks.append(visibility_mask(warp_official(l[:, k], fl), l[:, c], self.mask_para))
        x, m = torch.cat(xs, 0), torch.cat(masks, 0)  # all neighbours in one batch
        target = ab[:, c].repeat(len(xs), 1, 1, 1)
        out = self.warn(x, m).float()
        loss = F.l1_loss(out, target)
        with torch.no_grad():  # what the plain warp scores: the error WARN has to remove
            loss_warped = F.l1_loss(x, target)
        return {"loss": loss, "loss_warped": loss_warped}
