"""PFAN, the Pyramid Feature Attention Network for saliency detection (Zhao & Wu, CVPR 2019), as used to make
SVCNet's pseudo segmentation labels (docs/official.md §4.1).

Architecture (paper): a VGG16 backbone; context-aware pyramid feature extraction (CPFE: a 1×1 conv and three 3×3
convs dilated 3, 5, 7, 32 channels each) on conv3_3, conv4_3 and conv5_3, brought to the conv3_3 resolution and
weighted by channel-wise attention; conv1_2 and conv2_2 merged and weighted by spatial attention computed from the
high-level features (two separable 1×k / k×1 branches, k = 9); a 3×3 conv and a sigmoid on both.

Parameter names follow the public PyTorch port (sairajk, weights ``best-model_epoch-204_mae-0.0505_loss-0.1370.pth``,
registry name ``pfan``): ``vgg16.<torchvision features index>``, ``cpfe_conv{3,4,5}_3.{conv_1_1,conv_dil_3,
conv_dil_5,conv_dil_7,bn}``, ``cha_att.linear_{1,2}``, ``hl_conv1``, ``hl_bn1``, ``ll_conv_{1,2,3}``,
``ll_bn_{1,2,3}``, ``spa_att.grp{1,2}_{conv1k,convk1,bn1,bn2}``, ``ff_conv_1``. Those names were read from a
derivative of the port, not from the checkpoint itself: a checkpoint whose keys differ is refused with a
CheckpointError listing them (``svcnet.saliency.pfan.load_pfan``) rather than loaded partially.

Input: B×3×H×W RGB in [0, 1] normalised with the ImageNet mean/std (the port's preprocessing, 256×256 after padding
to a square); any H, W divisible by 16 work. Output: B×1×H×W saliency probabilities.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# torchvision VGG16 ``features`` indices whose outputs (after ReLU) feed PFAN.
TAPS = {3: "conv1_2", 8: "conv2_2", 15: "conv3_3", 22: "conv4_3", 29: "conv5_3"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg16_features() -> nn.Sequential:
    """torchvision's VGG16 ``features`` layout (same indices; random weights, the checkpoint provides them), built
    without the 120M-parameter classifier that ``torchvision.models.vgg16()`` would also create."""
    from torchvision.models.vgg import cfgs, make_layers

    return make_layers(cfgs["D"], batch_norm=False)


class CPFE(nn.Module):
    """Context-aware pyramid feature extraction: 1×1 conv + 3×3 convs dilated 3, 5, 7 (no bias), concat, BN, ReLU."""

    def __init__(self, in_channels: int, branch_channels: int = 32) -> None:
        super().__init__()
        self.conv_1_1 = nn.Conv2d(in_channels, branch_channels, 1, bias=False)
        self.conv_dil_3 = nn.Conv2d(in_channels, branch_channels, 3, padding=3, dilation=3, bias=False)
        self.conv_dil_5 = nn.Conv2d(in_channels, branch_channels, 3, padding=5, dilation=5, bias=False)
        self.conv_dil_7 = nn.Conv2d(in_channels, branch_channels, 3, padding=7, dilation=7, bias=False)
        self.bn = nn.BatchNorm2d(4 * branch_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.conv_1_1(x), self.conv_dil_3(x), self.conv_dil_5(x), self.conv_dil_7(x))
        return F.relu(self.bn(torch.cat(branches, dim=1)))


class ChannelAttention(nn.Module):
    """Channel weights (B×C×1×1) in (0, 1): global average pool, FC C→C/4, ReLU, FC C/4→C, sigmoid."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(channels, channels // 4)
        self.linear_2 = nn.Linear(channels // 4, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))
        return torch.sigmoid(self.linear_2(F.relu(self.linear_1(pooled))))[:, :, None, None]


class SpatialAttention(nn.Module):
    """Spatial weights (B×1×H×W) in (0, 1): sum of a 1×k→k×1 and a k×1→1×k branch (each conv + BN + ReLU), sigmoid."""

    def __init__(self, channels: int, kernel: int = 9) -> None:
        super().__init__()
        mid, pad = channels // 2, (kernel - 1) // 2
        self.grp1_conv1k = nn.Conv2d(channels, mid, (1, kernel), padding=(0, pad))
        self.grp1_bn1 = nn.BatchNorm2d(mid)
        self.grp1_convk1 = nn.Conv2d(mid, 1, (kernel, 1), padding=(pad, 0))
        self.grp1_bn2 = nn.BatchNorm2d(1)
        self.grp2_convk1 = nn.Conv2d(channels, mid, (kernel, 1), padding=(pad, 0))
        self.grp2_bn1 = nn.BatchNorm2d(mid)
        self.grp2_conv1k = nn.Conv2d(mid, 1, (1, kernel), padding=(0, pad))
        self.grp2_bn2 = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.grp1_bn2(self.grp1_convk1(F.relu(self.grp1_bn1(self.grp1_conv1k(x))))))
        b = F.relu(self.grp2_bn2(self.grp2_conv1k(F.relu(self.grp2_bn1(self.grp2_convk1(x))))))
        return torch.sigmoid(a + b)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=True)


class PFAN(nn.Module):
    """PFAN saliency network; ``forward(x)`` → B×1×H×W probabilities (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.vgg16 = vgg16_features()
        self.cpfe_conv3_3 = CPFE(256)
        self.cpfe_conv4_3 = CPFE(512)
        self.cpfe_conv5_3 = CPFE(512)
        self.cha_att = ChannelAttention(384)
        self.hl_conv1 = nn.Conv2d(384, 64, 3, padding=1)
        self.hl_bn1 = nn.BatchNorm2d(64)
        self.ll_conv_1 = nn.Conv2d(64, 64, 3, padding=1)
        self.ll_bn_1 = nn.BatchNorm2d(64)
        self.ll_conv_2 = nn.Conv2d(128, 64, 3, padding=1)
        self.ll_bn_2 = nn.BatchNorm2d(64)
        self.ll_conv_3 = nn.Conv2d(128, 64, 3, padding=1)
        self.ll_bn_3 = nn.BatchNorm2d(64)
        self.spa_att = SpatialAttention(64)
        self.ff_conv_1 = nn.Conv2d(128, 1, 3, padding=1)

    def backbone(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """VGG16 activations at conv1_2 … conv5_3 (after ReLU); the last max-pool is not run."""
        feats = {}
        for index, layer in enumerate(self.vgg16):
            x = layer(x)
            if index in TAPS:
                feats[TAPS[index]] = x
                if index == max(TAPS):
                    break
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone(x)
        c3 = self.cpfe_conv3_3(f["conv3_3"])
        high = torch.cat((c3, _up(self.cpfe_conv4_3(f["conv4_3"]), c3), _up(self.cpfe_conv5_3(f["conv5_3"]), c3)), 1)
        high = high * self.cha_att(high)
        high = _up(F.relu(self.hl_bn1(self.hl_conv1(high))), f["conv1_2"])
        l1 = F.relu(self.ll_bn_1(self.ll_conv_1(f["conv1_2"])))
        l2 = _up(F.relu(self.ll_bn_2(self.ll_conv_2(f["conv2_2"]))), l1)
        low = F.relu(self.ll_bn_3(self.ll_conv_3(torch.cat((l1, l2), 1))))
        low = low * self.spa_att(high)
        return torch.sigmoid(self.ff_conv_1(torch.cat((low, high), 1)))


def normalise(rgb01: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std normalisation of B×3×H×W RGB in [0, 1] (PFAN's input convention)."""
    mean = rgb01.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = rgb01.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (rgb01 - mean) / std
