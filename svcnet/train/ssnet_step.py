"""SSNet joint training step (docs/official.md §3.5): CPNet on the window's frames (fine-tuned, own lr), then SSNet run
recurrently over the palindrome window (0..T−1, T−1..0), one refinement per centre frame 3 … T+2.

Losses: ``loss_l1`` = Σ over the T steps of L1(out_t, ab_t) — the loss the official trainer optimises.
The official trainer also computes, but never adds, an SR loss and temporal losses (docs/official.md §7.9).
Here they are real terms with their own weights (``lambda_sr``, ``lambda_short``, ``lambda_long``): 0 in the paper
profile, which reproduces the published training; the CPU profiles train the SR tail (``lambda_sr`` > 0) because no
pre-trained SR weights are available there and an SR net that gets no gradient would stay random.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from svcnet.ops.warp import warp_official
from svcnet.train.loop import TrainStep

FlowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (frame_a 3ch, frame_b 3ch) -> flow warping a onto b


def palindrome(t: int) -> list[int]:
    """Frame index of each position of the official extended window: 0..t−1 followed by t−1..0."""
    return list(range(t)) + list(range(t - 1, -1, -1))


def visibility_mask(l_warped: torch.Tensor, l_centre: torch.Tensor, mask_para: float) -> torch.Tensor:
    """Official mask exp(−mask_para·(Σ_c Δ)²) over 3 replicated lightness channels, i.e. exp(−mask_para·(3Δ)²)."""
    return torch.exp(-mask_para * (3.0 * (l_warped - l_centre)) ** 2)


def window_flows_fn(
    batch: Mapping[str, torch.Tensor], l: torch.Tensor, flow_fn: FlowFn | None
) -> Callable[[int, int], torch.Tensor]:
    """flow(a, b): the flow that warps window frame a onto frame b (zero for a == b), from the batch's precomputed
    ``flows`` (DIS, in the data workers) or, lazily and cached, from ``flow_fn`` on the replicated lightness."""
    if "flows" in batch:
        flows = batch["flows"].float()
        return lambda a, b: flows[:, a, b]
    if flow_fn is None:
        raise ValueError("no flows in the batch and no flow network given")
    cache: dict[tuple[int, int], torch.Tensor] = {}

    def flow(a: int, b: int) -> torch.Tensor:
        if a == b:
            return l.new_zeros(l.shape[0], 2, *l.shape[-2:])
        if (a, b) not in cache:
            with torch.no_grad():
                cache[(a, b)] = flow_fn(l[:, a].expand(-1, 3, -1, -1), l[:, b].expand(-1, 3, -1, -1)).float()
        return cache[(a, b)]

    return flow


class SSNetStep(TrainStep):
    """CPNet + SSNet with the official joint-training loss (plus the optional terms above)."""

    loss_names = ("loss", "loss_l1", "loss_sr", "loss_short", "loss_long")
    find_unused_parameters = True  # SR branches ×4/×8 are not run; WARN may be frozen or not

    def __init__(
        self,
        cpnet: nn.Module,
        ssnet: nn.Module,
        lr_ssnet: float,
        lr_cpnet: float,
        lambda_l1: float = 1.0,
        lambda_sr: float = 0.0,
        lambda_short: float = 0.0,
        lambda_long: float = 0.0,
        mask_para: float = 200.0,
        flow_fn: FlowFn | None = None,
    ) -> None:
        super().__init__()
        self.cpnet, self.ssnet = cpnet, ssnet
        self.networks = {"ssnet": ssnet, "cpnet": cpnet}
        self.lr_ssnet, self.lr_cpnet = lr_ssnet, lr_cpnet
        self.lambda_l1, self.lambda_sr = lambda_l1, lambda_sr
        self.lambda_short, self.lambda_long = lambda_short, lambda_long
        self.mask_para = mask_para
        self.flow_fn = flow_fn
        seg = getattr(cpnet, "seg_decoder", None)
        if seg is not None:  # the seg head gets no gradient in joint training (its output is unused)
            seg.requires_grad_(False)
        if lr_cpnet <= 0:
            cpnet.requires_grad_(False)
        if lambda_sr <= 0:  # no gradient reaches the SR tail (official behaviour): keep it out of the optimiser
            ssnet.srnet.requires_grad_(False)

    def param_groups(self) -> list[dict[str, Any]]:
        groups = [
            {"name": "ssnet", "params": [p for p in self.ssnet.parameters() if p.requires_grad], "lr": self.lr_ssnet}
        ]
        if self.lr_cpnet > 0:
            groups.append(
                {
                    "name": "cpnet",
                    "params": [p for p in self.cpnet.parameters() if p.requires_grad],
                    "lr": self.lr_cpnet,
                }
            )
        return groups

    def _cpnet_all(self, l: torch.Tensor, scribble: torch.Tensor) -> torch.Tensor:
        b, t = l.shape[:2]
        with torch.set_grad_enabled(self.lr_cpnet > 0 and torch.is_grad_enabled()):
            ab, _ = self.cpnet(l.flatten(0, 1), scribble.flatten(0, 1))
        return ab.float().view(b, t, *ab.shape[1:])

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from svcnet.models.corrnet import ReferenceFeatures
        from svcnet.models.reference import build_reference

        l, ab, xl = batch["l"].float(), batch["ab"].float(), batch["xl"].float()
        t = l.shape[1]
        p = self._cpnet_all(l, batch["scribble"].float())
        flow = window_flows_fn(batch, l, self.flow_fn)
        with torch.no_grad():
            lab_0, feature_0 = build_reference(l[:, 0], p[:, 0].detach(), self.ssnet.corr.vggnet)
        feature_0 = ReferenceFeatures(feature_0)  # the frozen CorrNet embeds the window's reference once, not 7 times
        seq = palindrome(t)
        half = t // 2
        zero = l.new_zeros(())
        loss_l1, loss_sr, loss_short, loss_long = zero, zero, zero, zero
        prev_out = first_out = None
        for ii in range(t):
            c = seq[ii + half]
            p_list, m_list = [], []
            for j in list(range(half)) + list(range(half + 1, t)):
                k = seq[ii + j]
                fl = flow(k, c)
                p_list.append(warp_official(p[:, k], fl))
                m_list.append(visibility_mask(warp_official(l[:, k], fl), l[:, c], self.mask_para))
            c_prev = seq[ii + half - 1]
            last_out = p[:, c] if prev_out is None else warp_official(prev_out.detach(), flow(c_prev, c))
            o = self.ssnet.forward_details(xl[:, c], lab_0, feature_0, p[:, c], last_out, p_list, m_list)
            out = o.out.float()
            loss_l1 = loss_l1 + F.l1_loss(out, ab[:, c])
            if self.lambda_sr > 0:
                loss_sr = loss_sr + F.l1_loss(o.sr[2].float(), batch["ab_sr"][:, c].float())
            if self.lambda_short > 0 and prev_out is not None:
                m = m_list[half - 1]
                loss_short = loss_short + F.l1_loss(m * out, m * warp_official(prev_out.detach(), flow(c_prev, c)))
            if self.lambda_long > 0 and first_out is not None and ii > 1:
                f0 = seq[half]
                m0 = visibility_mask(warp_official(l[:, f0], flow(f0, c)), l[:, c], self.mask_para)
                loss_long = loss_long + F.l1_loss(m0 * out, m0 * warp_official(first_out.detach(), flow(f0, c)))
            if first_out is None:
                first_out = out
            prev_out = out
        loss = (
            self.lambda_l1 * loss_l1
            + self.lambda_sr * loss_sr
            + self.lambda_short * loss_short
            + self.lambda_long * loss_long
        )
        return {"loss": loss, "loss_l1": loss_l1, "loss_sr": loss_sr, "loss_short": loss_short, "loss_long": loss_long}
