"""CPNet (``CPNet_VGG16_Seg``, docs/official.md §2.1): colourises a frame from its lightness and scribbles, with a
VGG16 gray branch, a scribble encoder/decoder and a saliency (seg) head. Official module and key layout."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from svcnet.models.blocks import Conv2dLayer, ResConv2dLayer, TransposeConv2dLayer
from svcnet.models.vgg import VGGFeaNet

# Slices of vgg.features shared (the same module objects) as the gray-branch stages conv1_2_gray … conv5_3_gray.
GRAY_STAGES = {
    "conv1_2_gray": (0, 4),
    "conv2_2_gray": (4, 9),
    "conv3_3_gray": (9, 16),
    "conv4_3_gray": (16, 23),
    "conv5_3_gray": (23, 29),  # conv5_3 without its ReLU
}


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class SegDecoder(nn.Module):
    """Saliency head (``CPNet_Seg_subnet``) on the decoder maps at H/8, H/4, H/2; sigmoid output at H×W."""

    def __init__(self, pad_type: str = "zero", activation: str = "lrelu", norm: str = "none") -> None:
        super().__init__()
        kw = dict(pad_type=pad_type, activation=activation, norm=norm)
        self.conv1_1 = Conv2dLayer(256, 128, **kw)
        self.conv1_2 = Conv2dLayer(256, 64, **kw)
        self.conv2_1 = Conv2dLayer(256, 64, **kw)
        self.conv2_2 = Conv2dLayer(64, 64, **kw)
        self.conv3_1 = Conv2dLayer(192, 64, **kw)
        self.conv3_2 = Conv2dLayer(64, 1, pad_type=pad_type, activation="sigmoid", norm="none")

    def forward(self, dec4: torch.Tensor, dec3: torch.Tensor, dec2: torch.Tensor) -> torch.Tensor:
        a = self.conv1_1(_up2(dec4))
        a = self.conv2_1(torch.cat((a, dec3), 1))
        b = self.conv1_2(F.interpolate(dec4, scale_factor=4, mode="bilinear", align_corners=False))
        a = self.conv2_2(_up2(a))
        x = self.conv3_1(torch.cat((b, a, dec2), 1))
        return self.conv3_2(_up2(x))


class CPNet(nn.Module):
    """``CPNet_VGG16_Seg``: ``forward(x_l B×1×H×W L8/255, scribble_ab B×2×H×W ab/255) -> (ab B×2×H×W, seg
    B×1×H×W)``, both sigmoid outputs. H and W must be multiples of 16. The VGG16 weights come from a checkpoint (no
    file is read on construction); ``vgg.features.*`` and ``conv*_gray.*`` are the same tensors (98 state_dict keys)."""

    def __init__(
        self,
        in_channels: int = 1,
        scribble_channels: int = 2,
        out_channels: int = 2,
        start_channels: int = 64,
        pad_type: str = "zero",
        activation: str = "lrelu",
        norm: str = "none",
    ) -> None:
        super().__init__()
        c = start_channels
        kw = dict(pad_type=pad_type, activation=activation, norm=norm)
        self.vgg = VGGFeaNet()
        for name, (lo, hi) in GRAY_STAGES.items():
            setattr(self, name, nn.Sequential(*(self.vgg.features[i] for i in range(lo, hi))))
        self.E1 = nn.Sequential(Conv2dLayer(in_channels + scribble_channels, c, **kw), Conv2dLayer(c, c, **kw))
        self.E2 = nn.Sequential(Conv2dLayer(c, c * 2, stride=2, **kw), Conv2dLayer(c * 2, c * 2, **kw))
        self.E3 = nn.Sequential(Conv2dLayer(c * 2, c * 4, stride=2, **kw), Conv2dLayer(c * 4, c * 4, **kw))
        self.E4 = nn.Sequential(Conv2dLayer(c * 4, c * 8, stride=2, **kw), Conv2dLayer(c * 8, c * 8, **kw))
        self.E5 = nn.Sequential(Conv2dLayer(c * 8, c * 8, stride=2, **kw), Conv2dLayer(c * 8, c * 8, **kw))
        self.shortcut1 = Conv2dLayer(c, c, **kw)
        self.shortcut2 = Conv2dLayer(c * 2, c * 2, **kw)
        self.shortcut3 = Conv2dLayer(c * 4, c * 4, **kw)
        self.shortcut4 = Conv2dLayer(c * 8, c * 8, **kw)
        self.shortcut5 = Conv2dLayer(c * 8 + 512, c * 8, **kw)
        for i in range(1, 9):
            setattr(self, f"T{i}", ResConv2dLayer(c * 8, c * 8, **kw))
        self.D5_1 = TransposeConv2dLayer(c * 8, c * 8, **kw)
        self.D4_1 = TransposeConv2dLayer(c * 4, c * 4, **kw)
        self.D3_1 = TransposeConv2dLayer(c * 2, c * 2, **kw)
        self.D2_1 = TransposeConv2dLayer(c, c, **kw)
        self.D5_2 = Conv2dLayer(c * 16, c * 4, **kw)
        self.D4_2 = Conv2dLayer(c * 8, c * 2, **kw)
        self.D3_2 = Conv2dLayer(c * 4, c, **kw)
        self.D2_2 = Conv2dLayer(c * 2, c, **kw)
        self.D1 = Conv2dLayer(c, out_channels, pad_type=pad_type, activation="sigmoid", norm="none")
        self.seg_decoder = SegDecoder(pad_type=pad_type, activation=activation, norm=norm)

    def gray_features(self, x_l: torch.Tensor) -> torch.Tensor:
        """conv5_3 (before ReLU) of the VGG16 gray branch on the replicated lightness (no ImageNet normalisation)."""
        g = torch.cat((x_l, x_l, x_l), 1)
        for name in GRAY_STAGES:
            g = getattr(self, name)(g)
        return g

    def forward(self, x_l: torch.Tensor, scribble_ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x_l.shape[1] != 1 or scribble_ab.shape[1] != 2 or x_l.shape[-2:] != scribble_ab.shape[-2:]:
            raise ValueError(
                f"CPNet expects B×1×H×W lightness and B×2×H×W scribble ab, got {tuple(x_l.shape)} and "
                f"{tuple(scribble_ab.shape)}"
            )
        h, w = x_l.shape[-2:]
        if h % 16 or w % 16:
            raise ValueError(f"CPNet needs H and W divisible by 16, got {h}×{w}")
        g5 = self.gray_features(x_l)
        x1 = self.E1(torch.cat((x_l, scribble_ab), 1))
        x2 = self.E2(x1)
        x3 = self.E3(x2)
        x4 = self.E4(x3)
        x5 = self.E5(x4)
        x = self.shortcut5(torch.cat((x5, g5), 1))
        for i in range(1, 9):
            x = getattr(self, f"T{i}")(x)
        dec4 = self.D5_2(torch.cat((self.D5_1(x), self.shortcut4(x4)), 1))
        dec3 = self.D4_2(torch.cat((self.D4_1(dec4), self.shortcut3(x3)), 1))
        dec2 = self.D3_2(torch.cat((self.D3_1(dec3), self.shortcut2(x2)), 1))
        dec1 = self.D2_2(torch.cat((self.D2_1(dec2), self.shortcut1(x1)), 1))
        ab = self.D1(dec1)
        seg = self.seg_decoder(dec4, dec3, dec2)
        return ab, seg
