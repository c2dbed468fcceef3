"""Colour-embedding super-resolution net of SSNet (official ``Color_Embedding_SR_Net`` key layout)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from svcnet.models.blocks import Conv2dLayer, ResidualDenseBlock5C, TransposeConv2dLayer

SR_SCALES = (2, 4, 8)


class ColorEmbeddingSRNet(nn.Module):
    """Upsamples an ab map ×2/×4/×8: ``clamp(nearest_up(x) - branch_s(features(x)), 0, 1)`` per scale.

    Only the requested scales are computed; each branch depends only on the shared trunk, so the ×2 output is the
    same whether or not the ×4/×8 branches run.
    """

    def __init__(
        self,
        in_channels: int = 2,
        out_channels: int = 2,
        start_channels: int = 32,
        pad: str = "zero",
        activation: str = "lrelu",
        norm: str = "none",
    ) -> None:
        super().__init__()
        c = start_channels
        kw = dict(pad_type=pad, activation=activation, norm=norm)
        self.begin = Conv2dLayer(in_channels, c, **kw)
        self.sr1 = ResidualDenseBlock5C(c, c // 2, **kw)
        self.sr2 = ResidualDenseBlock5C(c, c // 2, **kw)
        self.sr3 = ResidualDenseBlock5C(c, c // 2, **kw)
        self.sr4 = ResidualDenseBlock5C(c, c // 2, **kw)
        self.mid = Conv2dLayer(c, c, **kw)
        self.down2_up1 = TransposeConv2dLayer(c, c, **kw)
        self.down2_final = Conv2dLayer(c, out_channels, pad_type=pad, activation="none", norm=norm)
        self.down4_up1 = TransposeConv2dLayer(c, c, **kw)
        self.down4_up2 = TransposeConv2dLayer(c, c, **kw)
        self.down4_final = Conv2dLayer(c, out_channels, pad_type=pad, activation="none", norm=norm)
        self.down8_up1 = TransposeConv2dLayer(c, c, **kw)
        self.down8_up2 = TransposeConv2dLayer(c, c, **kw)
        self.down8_up3 = TransposeConv2dLayer(c, c, **kw)
        self.down8_final = Conv2dLayer(c, out_channels, pad_type=pad, activation="none", norm=norm)

    def _branch(self, scale: int) -> list[nn.Module]:
        ups = [getattr(self, f"down{scale}_up{i}") for i in range(1, {2: 1, 4: 2, 8: 3}[scale] + 1)]
        return [*ups, getattr(self, f"down{scale}_final")]

    def forward(self, x: torch.Tensor, scales: Iterable[int] = SR_SCALES) -> dict[int, torch.Tensor]:
        """``x``: B×2×H×W ab map; returns ``{scale: B×2×(s·H)×(s·W)}`` for each requested scale in (2, 4, 8)."""
        scales = tuple(scales)
        bad = [s for s in scales if s not in SR_SCALES]
        if bad:
            raise ValueError(f"unsupported SR scale(s) {bad}; choose from {SR_SCALES}")
        feat = self.mid(self.sr4(self.sr3(self.sr2(self.sr1(self.begin(x))))))
        out: dict[int, torch.Tensor] = {}
        for s in scales:
            branch = feat
            for layer in self._branch(s):
                branch = layer(branch)
            base = F.interpolate(x, scale_factor=s, mode="nearest")
            out[s] = torch.clamp(base - branch, 0.0, 1.0)
        return out
