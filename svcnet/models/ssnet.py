"""SSNet — SVCNet's refinement net (official ``SSNet`` key layout: ``warn``, ``corr``, ``comb``, ``srnet``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from svcnet.models.combination import CombinationNet
from svcnet.models.corrnet import CorrespondenceNet
from svcnet.models.srnet import SR_SCALES, ColorEmbeddingSRNet
from svcnet.models.warn import WarpArtifactRemovalNet

NUM_NEIGHBOURS = 6  # frames t-3, t-2, t-1, t+1, t+2, t+3
RECURRENT_SLOT = 3  # last_out goes after the three past neighbours


@dataclass
class SSNetOutputs:
    """Everything one SSNet pass computes (B×C×H×W tensors; ``sr`` maps scale → B×2×sH×sW)."""

    out: torch.Tensor  # warped_0 - residual, 256×448 at the working size, not clamped
    residual: torch.Tensor
    warped_0: torch.Tensor  # CorrNet output (CPNet ab convention)
    similarity: torch.Tensor | None  # CorrNet similarity map (None when warped_0 was supplied)
    warn_outs: torch.Tensor  # B×14×H×W: WARN outputs ordered [t-3, t-2, t-1, last_out, t+1, t+2, t+3]
    sr: dict[int, torch.Tensor]


class SSNet(nn.Module):
    """Short-range (WARN on flow-warped neighbours) + long-range (CorrNet on the first frame) fusion with SR tail.

    ``sr_scales`` chooses which SR branches run; SSNet only returns the ×2 output, which does not depend on the others,
    so the default ``(2,)`` skips the ×4/×8 branches the official code computes and discards (``(2, 4, 8)`` runs them).
    Batch size: every part works per sample; CorrNet's OpenCV post-filter loops over the batch.
    """

    def __init__(
        self,
        sr_scales: Sequence[int] = (2,),
        lambda_value: float = 500.0,
        sigma_color: float = 4.0,
        freeze_pretrained: bool = True,
    ) -> None:
        super().__init__()
        self.warn = WarpArtifactRemovalNet()
        self.corr = CorrespondenceNet(lambda_value=lambda_value, sigma_color=sigma_color)
        self.comb = CombinationNet()
        self.srnet = ColorEmbeddingSRNet()
        if 2 not in sr_scales or any(s not in SR_SCALES for s in sr_scales):
            raise ValueError(f"sr_scales must include 2 and be a subset of {SR_SCALES}, got {tuple(sr_scales)}")
        self.sr_scales = tuple(sr_scales)
        if freeze_pretrained:  # the official model keeps WARN and CorrNet frozen during joint training
            for p in list(self.warn.parameters()) + list(self.corr.parameters()):
                p.requires_grad_(False)

    def warn_all(
        self, last_out: torch.Tensor, p_t_list: Sequence[torch.Tensor], mask_list: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """The shared WARN applied to the 6 warped neighbours and the recurrent input (paired with the t-1 mask)."""
        if len(p_t_list) != NUM_NEIGHBOURS or len(mask_list) != NUM_NEIGHBOURS:
            raise ValueError(
                f"SSNet needs {NUM_NEIGHBOURS} warped neighbours and masks, got {len(p_t_list)} and {len(mask_list)}"
            )
        inputs = list(p_t_list)
        masks = list(mask_list)
        inputs.insert(RECURRENT_SLOT, last_out)
        masks.insert(RECURRENT_SLOT, mask_list[RECURRENT_SLOT - 1])
        if last_out.is_cuda:
            # one batched pass (WARN's instance norm is per sample, so this equals seven separate calls to ~1e-6);
            # on the CPU seven calls are faster (docs/measurements.md §4) and bit-identical to
            # the official code, which calls WARN once per input
            outs = self.warn(torch.cat(inputs, 0), torch.cat(masks, 0)).split(last_out.shape[0], 0)
        else:
            outs = [self.warn(x, m) for x, m in zip(inputs, masks)]
        return torch.cat(outs, 1)

    def forward_details(
        self,
        x_t: torch.Tensor,
        lab_0: torch.Tensor,
        feature_0: Sequence[torch.Tensor],
        p_t: torch.Tensor,
        last_out: torch.Tensor,
        p_t_list: Sequence[torch.Tensor],
        mask_list: Sequence[torch.Tensor],
        warped_0: torch.Tensor | None = None,
    ) -> SSNetOutputs:
        """Full pass keeping the intermediates; pass ``warped_0`` to bypass CorrNet (e.g. to feed a known output)."""
        warn_outs = self.warn_all(last_out, p_t_list, mask_list)
        similarity = None
        if warped_0 is None:
            warped_0, similarity = self.corr(x_t, lab_0, feature_0, temperature=0.01)
        out, residual = self.comb(p_t, warped_0, warn_outs)
        sr = self.srnet(out, scales=self.sr_scales)
        return SSNetOutputs(
            out=out, residual=residual, warped_0=warped_0, similarity=similarity, warn_outs=warn_outs, sr=sr
        )

    def forward(
        self,
        x_t: torch.Tensor,
        lab_0: torch.Tensor,
        feature_0: Sequence[torch.Tensor],
        p_t: torch.Tensor,
        last_out: torch.Tensor,
        p_t_list: Sequence[torch.Tensor],
        mask_list: Sequence[torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Official signature and result: ``(out, out_up2, residual)``.

        ``x_t`` B×1×H×W L*−50 (the "transform" L of frame t); ``lab_0`` B×3×H×W first-frame reference (L*−50, a*, b*);
        ``feature_0`` its VGG19 features r12…r52; ``p_t`` CPNet ab of frame t; ``last_out`` the recurrent input;
        ``p_t_list``/``mask_list`` warped CPNet ab and visibility masks of frames t-3, t-2, t-1, t+1, t+2, t+3.
        """
        o = self.forward_details(x_t, lab_0, feature_0, p_t, last_out, p_t_list, mask_list)
        return o.out, o.sr[2], o.residual
