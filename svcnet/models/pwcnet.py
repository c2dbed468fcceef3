"""PWC-Net optical flow as used by SVCNet (spec §2.5): the old "pytorch-pwc" module names (``moduleExtractor``,
``moduleTwo`` … ``moduleSix``, ``moduleRefiner``), decoder feature warps with the official border-padded
``PWCNetBackward`` (:func:`svcnet.ops.warp.warp_official`) and the 81-channel cost volume of
:mod:`svcnet.ops.correlation`.

Flow convention of :func:`pwc_estimate`: B×2×H×W pixels, channel 0 horizontal, channel 1 vertical, such that
``warp_official(second, flow) ≈ first``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from svcnet.ops.correlation import correlation
from svcnet.ops.warp import warp_official

EXTRACTOR_CHANNELS = (16, 32, 64, 96, 128, 196)
LEVEL_NAMES = ("One", "Two", "Thr", "Fou", "Fiv", "Six")
DENSE_CHANNELS = (128, 128, 96, 64, 32)
COST_CHANNELS = 81
# Decoder level → channels of that level's extractor output (levels 2…5; level 6 uses the cost volume only).
_LEVEL_FEATURES = {2: 32, 3: 64, 4: 96, 5: 128}
_BACKWARD_SCALE = {2: 5.0, 3: 2.5, 4: 1.25, 5: 0.625}


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(negative_slope=0.1, inplace=False)


class Extractor(nn.Module):
    """Six-level feature pyramid (1/2 … 1/64), three 3×3 convs per level, the first with stride 2."""

    def __init__(self) -> None:
        super().__init__()
        previous = 3
        for name, ch in zip(LEVEL_NAMES, EXTRACTOR_CHANNELS):
            setattr(
                self,
                f"module{name}",
                nn.Sequential(
                    nn.Conv2d(previous, ch, 3, stride=2, padding=1),
                    _lrelu(),
                    nn.Conv2d(ch, ch, 3, stride=1, padding=1),
                    _lrelu(),
                    nn.Conv2d(ch, ch, 3, stride=1, padding=1),
                    _lrelu(),
                ),
            )
            previous = ch

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for name in LEVEL_NAMES:
            x = getattr(self, f"module{name}")(x)
            out.append(x)
        return out


def _decoder_channels(level: int) -> int:
    """Input channels of a decoder's dense block at ``level`` (cost volume, first features, flow, upsampled feature)."""
    return COST_CHANNELS if level == 6 else COST_CHANNELS + _LEVEL_FEATURES[level] + 2 + 2


class Decoder(nn.Module):
    """Flow estimator of one pyramid level (densely connected convs; levels < 6 start from the upsampled coarser
    flow and warp the second image's features with it)."""

    def __init__(self, level: int, gcs: bool = False) -> None:
        super().__init__()
        self.level = level
        self.gcs = gcs  # warp second-image features as GCS/pwcnet.py does (nearest, zero padding)
        current = _decoder_channels(level)
        if level < 6:
            previous = _decoder_channels(level + 1) + sum(DENSE_CHANNELS)
            self.moduleUpflow = nn.ConvTranspose2d(2, 2, kernel_size=4, stride=2, padding=1)
            self.moduleUpfeat = nn.ConvTranspose2d(previous, 2, kernel_size=4, stride=2, padding=1)
            self.backward_scale = _BACKWARD_SCALE[level]
        total = current
        for name, ch in zip(LEVEL_NAMES[:5], DENSE_CHANNELS):
            setattr(self, f"module{name}", nn.Sequential(nn.Conv2d(total, ch, 3, stride=1, padding=1), _lrelu()))
            total += ch
        self.moduleSix = nn.Sequential(nn.Conv2d(total, 2, 3, stride=1, padding=1))

    def forward(
        self, first: torch.Tensor, second: torch.Tensor, previous: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow, feature) of this level from the two images' features and the coarser level's (flow, feature)."""
        if previous is None:
            feat = F.leaky_relu(correlation(first, second), 0.1)
        else:
            flow = self.moduleUpflow(previous[0])
            upfeat = self.moduleUpfeat(previous[1])
            volume = F.leaky_relu(correlation(first, warp_official(second, flow * self.backward_scale, self.gcs)), 0.1)
            feat = torch.cat((volume, first, flow, upfeat), 1)
        for name in LEVEL_NAMES[:5]:
            feat = torch.cat((getattr(self, f"module{name}")(feat), feat), 1)
        return self.moduleSix(feat), feat


class Refiner(nn.Module):
    """Context network: dilated convs (dilations 1, 2, 4, 8, 16, 1, 1) on the level-2 feature → flow residual."""

    def __init__(self) -> None:
        super().__init__()
        chans = (_decoder_channels(2) + sum(DENSE_CHANNELS), 128, 128, 128, 96, 64, 32, 2)
        dilations = (1, 2, 4, 8, 16, 1, 1)
        layers: list[nn.Module] = []
        for i, d in enumerate(dilations):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], 3, stride=1, padding=d, dilation=d))
            if i < len(dilations) - 1:
                layers.append(_lrelu())
        self.moduleMain = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.moduleMain(x)


class PWCNet(nn.Module):
    """PWC-Net; ``forward(first, second)`` (B×3×H×W, H and W multiples of 64) returns the raw level-2 flow
    (B×2×H/4×W/4, in units of 1/20 full-resolution pixel). Use :func:`pwc_estimate` for pixel flows.

    ``gcs``: the copy in the official scribble generator (``GCS/pwcnet.py``), whose decoders warp with nearest
    sampling and zero padding (same weights, different flows)."""

    def __init__(self, gcs: bool = False) -> None:
        super().__init__()
        self.moduleExtractor = Extractor()
        self.moduleTwo = Decoder(2, gcs)
        self.moduleThr = Decoder(3, gcs)
        self.moduleFou = Decoder(4, gcs)
        self.moduleFiv = Decoder(5, gcs)
        self.moduleSix = Decoder(6, gcs)
        self.moduleRefiner = Refiner()

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        f = self.moduleExtractor(first)
        s = self.moduleExtractor(second)
        est = self.moduleSix(f[5], s[5], None)
        est = self.moduleFiv(f[4], s[4], est)
        est = self.moduleFou(f[3], s[3], est)
        est = self.moduleThr(f[2], s[2], est)
        flow, feat = self.moduleTwo(f[1], s[1], est)
        return flow + self.moduleRefiner(feat)


def pwc_estimate(
    net: PWCNet, first: torch.Tensor, second: torch.Tensor, drange: bool = True, reshape: bool = True
) -> torch.Tensor:
    """The official ``PWCEstimate``: B×2×H×W flow in pixels from ``first`` to ``second`` (B×3×H×W in [0, 1]; with
    ``drange=False`` inputs in [−1, 1] are mapped to [0, 1] first). With ``reshape`` the frames are bilinearly
    resized to the next multiples of 64 and the flow is brought back to H×W and rescaled."""
    if first.dim() != 4 or first.shape != second.shape or first.shape[1] != 3:
        raise ValueError(
            f"pwc_estimate expects two B×3×H×W tensors of one shape, got {tuple(first.shape)} and {tuple(second.shape)}"
        )
    if not drange:
        first, second = (first + 1) / 2, (second + 1) / 2
    h, w = first.shape[-2:]
    hp, wp = (int(math.ceil(h / 64.0) * 64), int(math.ceil(w / 64.0) * 64)) if reshape else (h, w)
    if (hp, wp) != (h, w):
        first = F.interpolate(first, size=(hp, wp), mode="bilinear", align_corners=False)
        second = F.interpolate(second, size=(hp, wp), mode="bilinear", align_corners=False)
    raw = net(first, second)
    flow = 20.0 * F.interpolate(raw, size=(h, w), mode="bilinear", align_corners=False)
    return torch.cat((flow[:, :1] * (float(w) / float(wp)), flow[:, 1:] * (float(h) / float(hp))), 1)
