"""CPNet training step (docs/official.md §3.1): L1(ab, ab_gt) + lambda_seg · L1(seg, saliency-or-mask)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from svcnet.train.loop import TrainStep


class CPNetTrainStep(TrainStep):
    """The official CPNet loss. The seg term averages only over images that have a target (``has_seg``)."""

    loss_names = ("loss", "loss_ab", "loss_seg")

    def __init__(self, cpnet: nn.Module, lr: float, lambda_l1: float = 1.0, lambda_seg: float = 0.1) -> None:
        super().__init__()
        self.cpnet = cpnet
        self.networks = {"cpnet": cpnet}
        self.lr, self.lambda_l1, self.lambda_seg = lr, lambda_l1, lambda_seg

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"name": "cpnet", "params": [p for p in self.cpnet.parameters() if p.requires_grad], "lr": self.lr}]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ab, seg = self.cpnet(batch["l"], batch["scribble"])
        ab, seg = ab.float(), seg.float()
        loss_ab = F.l1_loss(ab, batch["ab"].float())
        weight = batch["has_seg"].float().view(-1, 1, 1, 1)
        per_image = (seg - batch["seg"].float()).abs().mean(dim=(1, 2, 3), keepdim=True)
        loss_seg = (per_image * weight).sum() / weight.sum().clamp_min(1.0)
        loss = self.lambda_l1 * loss_ab + self.lambda_seg * loss_seg
        return {"loss": loss, "loss_ab": loss_ab, "loss_seg": loss_seg}
