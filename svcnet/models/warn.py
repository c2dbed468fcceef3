"""WARN — the warp artifact removal net of SSNet (official ``Warp_Artifact_Removal_Net`` key layout)."""

from __future__ import annotations

import torch
from torch import nn

from svcnet.models.blocks import Conv2dLayer, ResConv2dLayer, TransposeConv2dLayer


class WarpArtifactRemovalNet(nn.Module):
    """Cleans one warped ab map using its visibility mask: ``out = x - net(cat(x, mask))`` (not clamped).

    Small U-Net (16/32/64 channels, instance norm, 4 residual bottleneck blocks, tanh head). H and W must be divisible
    by 4.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 2,
        start_channels: int = 16,
        pad: str = "zero",
        activation: str = "lrelu",
        norm: str = "in",
    ) -> None:
        super().__init__()
        c = start_channels
        kw = dict(pad_type=pad, activation=activation, norm=norm)
        self.down1 = Conv2dLayer(in_channels, c, pad_type=pad, activation=activation, norm="none")
        self.down2 = Conv2dLayer(c, c * 2, stride=2, **kw)
        self.down3 = Conv2dLayer(c * 2, c * 4, stride=2, **kw)
        self.bottleneck = nn.Sequential(*[ResConv2dLayer(c * 4, **kw) for _ in range(4)])
        self.up1 = TransposeConv2dLayer(c * 4, c * 2, **kw)
        self.up2 = TransposeConv2dLayer(c * 4, c, **kw)
        self.up3 = Conv2dLayer(c * 2, out_channels, pad_type=pad, activation="tanh", norm="none")

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: B×2×H×W warped ab (ab/255 units); ``mask``: B×1×H×W visibility mask."""
        if x.shape[-2] % 4 or x.shape[-1] % 4:
            raise ValueError(f"WARN needs H and W divisible by 4, got {tuple(x.shape[-2:])}")
        d1 = self.down1(torch.cat((x, mask), 1))
        d2 = self.down2(d1)
        d3 = self.bottleneck(self.down3(d2))
        u1 = torch.cat((self.up1(d3), d2), 1)
        u2 = torch.cat((self.up2(u1), d1), 1)
        return x - self.up3(u2)
