"""Convolution blocks shared by CPNet, WARN, the combination net and the SR net (official key layout: pad →
bias-free conv stored as ``conv2d`` → optional norm → activation; zero padding is done inside the convolution, see
:class:`Conv2dLayer`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_PADS = {"zero": nn.ZeroPad2d, "reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d}


def make_activation(name: str) -> nn.Module | None:
    """Activation by its official option name."""
    table = {
        "lrelu": lambda: nn.LeakyReLU(0.2, inplace=True),
        "relu": lambda: nn.ReLU(inplace=True),
        "prelu": nn.PReLU,
        "selu": lambda: nn.SELU(inplace=True),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "none": lambda: None,
    }
    if name not in table:
        raise ValueError(f"unsupported activation {name!r}")
    return table[name]()


def make_norm(name: str, channels: int) -> nn.Module | None:
    """Normalisation by its official option name ('in' keeps no statistics and has no parameters)."""
    if name == "bn":
        return nn.BatchNorm2d(channels)
    if name == "in":
        return nn.InstanceNorm2d(channels)
    if name == "none":
        return None
    raise ValueError(f"unsupported norm {name!r}")


class Conv2dLayer(nn.Module):
    """Pad, bias-free convolution (``conv2d``), norm, activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        dilation: int = 1,
        pad_type: str = "zero",
        activation: str = "lrelu",
        norm: str = "none",
    ) -> None:
        super().__init__()
        if pad_type not in _PADS:
            raise ValueError(f"unsupported pad type {pad_type!r}")
        # Zero padding inside the convolution gives the numbers of the official ZeroPad2d + conv (bit for bit at
        # 256x448 on the CPU; last bits at small sizes, where oneDNN picks other kernels) without materialising a
        # padded copy of every input; other pads stay separate modules.
        zero = pad_type == "zero"
        self.pad = nn.Identity() if zero else _PADS[pad_type](padding)
        self.conv2d = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding=padding if zero else 0,
            dilation=dilation,
            bias=False,
        )
        self.norm = make_norm(norm, out_channels)
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2d(self.pad(x))
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


def official_zero_padding(net: nn.Module) -> nn.Module:
    """``net`` with every zero-padded :class:`Conv2dLayer` padding through a separate ``ZeroPad2d`` as in the
    official code (in place; returns ``net``). Same numbers, slower: for benchmarking the official procedure."""
    for module in net.modules():
        if isinstance(module, Conv2dLayer) and isinstance(module.pad, nn.Identity):
            ph, pw = module.conv2d.padding
            module.pad = nn.ZeroPad2d((pw, pw, ph, ph))
            module.conv2d.padding = (0, 0)
    return net


class TransposeConv2dLayer(nn.Module):
    """Nearest-neighbour upsampling by ``scale_factor`` followed by a :class:`Conv2dLayer` (key ``conv2d.conv2d``)."""

    def __init__(self, in_channels: int, out_channels: int, *args, scale_factor: int = 2, **kwargs) -> None:
        super().__init__()
        self.scale_factor = scale_factor
        self.conv2d = Conv2dLayer(in_channels, out_channels, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(F.interpolate(x, scale_factor=self.scale_factor, mode="nearest"))


class ResConv2dLayer(nn.Module):
    """Residual pair of convolutions: ``x + 0.1 * conv(act(conv(x)))`` (keys ``conv2d.0``, ``conv2d.1``)."""

    def __init__(
        self,
        channels: int,
        latent_channels: int | None = None,
        activation: str = "lrelu",
        norm: str = "none",
        pad_type: str = "zero",
    ) -> None:
        super().__init__()
        latent = latent_channels or channels
        self.conv2d = nn.Sequential(
            Conv2dLayer(channels, latent, pad_type=pad_type, activation=activation, norm=norm),
            Conv2dLayer(latent, channels, pad_type=pad_type, activation="none", norm=norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.1 * self.conv2d(x) + x


class ResidualDenseBlock5C(nn.Module):
    """Five densely connected convolutions (growth ``growth``), every one activated; ``x + 0.1 * conv5``."""

    def __init__(
        self, channels: int, growth: int, activation: str = "lrelu", norm: str = "none", pad_type: str = "zero"
    ) -> None:
        super().__init__()
        kw = dict(pad_type=pad_type, activation=activation, norm=norm)
        self.conv1 = Conv2dLayer(channels, growth, **kw)
        self.conv2 = Conv2dLayer(channels + growth, growth, **kw)
        self.conv3 = Conv2dLayer(channels + 2 * growth, growth, **kw)
        self.conv4 = Conv2dLayer(channels + 3 * growth, growth, **kw)
        self.conv5 = Conv2dLayer(channels + 4 * growth, channels, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = self.conv2(torch.cat((x, x1), 1))
        x3 = self.conv3(torch.cat((x, x1, x2), 1))
        x4 = self.conv4(torch.cat((x, x1, x2, x3), 1))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return 0.1 * x5 + x
