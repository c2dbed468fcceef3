"""VGG16 convolutional trunk in torchvision's ``features.N`` layout (indices 0–29: 13 convs with ReLU, 4 max-pools;
the final pool is left out), the official ``VGGFeaNet`` that CPNet's gray branch shares."""

from __future__ import annotations

import torch
from torch import nn

# torchvision VGG16 configuration "D": channels of each 3×3 conv, "M" = 2×2 max-pool.
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def vgg16_feature_layers(in_channels: int = 3) -> nn.Sequential:
    """``features[0..29]`` of torchvision's VGG16 (conv3×3 pad 1 with bias, in-place ReLU, MaxPool(2, 2))."""
    layers: list[nn.Module] = []
    c = in_channels
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c = int(v)
    return nn.Sequential(*layers)


class VGGFeaNet(nn.Module):
    """VGG16 features (keys ``features.N.weight/bias``, loadable from a torchvision VGG16 ``features`` state_dict);
    ``forward`` returns the relu5_3 map (B×512×H/16×W/16)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg16_feature_layers()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
