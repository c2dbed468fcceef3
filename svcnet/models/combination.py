"""Combination net of SSNet (official ``Combination_Net`` key layout): fuses CPNet, CorrNet and WARN outputs."""

from __future__ import annotations

import torch
from torch import nn

from svcnet.models.blocks import Conv2dLayer, ResConv2dLayer, TransposeConv2dLayer


class CombinationNet(nn.Module):
    """U-Net predicting a residual on the long-range estimate: ``out = warped_0 - residual`` (not clamped).

    Input channels, in order: ``p_t`` (2), ``warped_0`` (2), the 7 WARN outputs (14). H and W must be divisible by 16.
    """

    def __init__(
        self,
        in_channels: int = 18,
        out_channels: int = 2,
        start_channels: int = 32,
        pad: str = "zero",
        activation: str = "lrelu",
        norm: str = "none",
    ) -> None:
        super().__init__()
        c = start_channels
        kw = dict(pad_type=pad, activation=activation, norm=norm)
        self.E1 = Conv2dLayer(in_channels, c, **kw)
        self.E2 = Conv2dLayer(c, c * 2, stride=2, **kw)
        self.E3 = Conv2dLayer(c * 2, c * 4, stride=2, **kw)
        self.E4 = Conv2dLayer(c * 4, c * 8, stride=2, **kw)
        self.E5 = Conv2dLayer(c * 8, c * 8, stride=2, **kw)
        self.T1 = ResConv2dLayer(c * 8, **kw)
        self.T2 = ResConv2dLayer(c * 8, **kw)
        self.T3 = ResConv2dLayer(c * 8, **kw)
        self.T4 = ResConv2dLayer(c * 8, **kw)
        self.D5 = TransposeConv2dLayer(c * 8, c * 8, **kw)
        self.D4 = TransposeConv2dLayer(c * 16, c * 4, **kw)
        self.D3 = TransposeConv2dLayer(c * 8, c * 2, **kw)
        self.D2 = TransposeConv2dLayer(c * 4, c, **kw)
        self.D1 = Conv2dLayer(c * 2, c, **kw)
        self.outconv = Conv2dLayer(c, out_channels, pad_type=pad, activation="none", norm="none")

    def forward(
        self, p_t: torch.Tensor, warped_0: torch.Tensor, warn_outs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(warped_0 - residual, residual)``, both B×2×H×W."""
        if p_t.shape[-2] % 16 or p_t.shape[-1] % 16:
            raise ValueError(f"Combination net needs H and W divisible by 16, got {tuple(p_t.shape[-2:])}")
        x1 = self.E1(torch.cat((p_t, warped_0, warn_outs), 1))
        x2 = self.E2(x1)
        x3 = self.E3(x2)
        x4 = self.E4(x3)
        x = self.T4(self.T3(self.T2(self.T1(self.E5(x4)))))
        x = self.D4(torch.cat((self.D5(x), x4), 1))
        x = self.D3(torch.cat((x, x3), 1))
        x = self.D2(torch.cat((x, x2), 1))
        x = self.D1(torch.cat((x, x1), 1))
        residual = self.outconv(x)
        return warped_0 - residual, residual
