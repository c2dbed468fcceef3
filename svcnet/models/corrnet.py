"""CorrNet — SSNet's long-range correspondence branch (official ``Correspondence_Net`` from DEVC, key layout
``vggnet.conv1_1…conv5_4`` and ``nonlocal_net.*``).

The current frame's lightness is matched against the first frame's colourised reference with VGG19 features and a
non-local (softmax, temperature 0.01) correlation; the warped reference colour is then smoothed with OpenCV's fast
global smoother (WLS, guided by the current frame) and converted to the CPNet ab convention (cv2-Lab8 ab / 255)
through a uint8 RGB round trip, exactly as the official code does. The WLS and colour round trip run on the CPU
(numpy/OpenCV/scikit-image) whatever the input device; the result is moved back to the input's device.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from skimage import color
from torch import nn

VGG_MEAN_BGR = (0.40760392, 0.45795686, 0.48501961)
FEATURE_KEYS = ("r12", "r22", "r32", "r42", "r52")
_EPS = sys.float_info.epsilon  # added to L2 norms, as the official code does
_VGG19_CONVS = (
    ("conv1_1", 3, 64),
    ("conv1_2", 64, 64),
    ("conv2_1", 64, 128),
    ("conv2_2", 128, 128),
    ("conv3_1", 128, 256),
    ("conv3_2", 256, 256),
    ("conv3_3", 256, 256),
    ("conv3_4", 256, 256),
    ("conv4_1", 256, 512),
    ("conv4_2", 512, 512),
    ("conv4_3", 512, 512),
    ("conv4_4", 512, 512),
    ("conv5_1", 512, 512),
    ("conv5_2", 512, 512),
    ("conv5_3", 512, 512),
    ("conv5_4", 512, 512),
)


def vgg_preprocess(rgb: torch.Tensor) -> torch.Tensor:
    """Caffe-style VGG input: RGB in [0,1] → BGR, minus the Caffe mean (/255), ×255."""
    bgr = rgb.flip(1)
    mean = torch.tensor(VGG_MEAN_BGR, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (bgr - mean) * 255


class VGG19Features(nn.Module):
    """VGG19 convolutions (``conv1_1``…``conv5_4``, with bias) returning ReLU outputs by name (``r12`` =
    relu(conv1_2))."""

    def __init__(self) -> None:
        super().__init__()
        for name, cin, cout in _VGG19_CONVS:
            setattr(self, name, nn.Conv2d(cin, cout, kernel_size=3, padding=1))

    def forward(
        self, x: torch.Tensor, out_keys: Sequence[str] = FEATURE_KEYS, preprocess: bool = True
    ) -> list[torch.Tensor]:
        """``x``: B×3×H×W RGB in [0,1]; returns the requested ``r<block><index>`` maps (computed only as deep as
        needed)."""
        wanted = set(out_keys)
        valid = {"r" + n[4] + n[6] for n, _, _ in _VGG19_CONVS}
        if not wanted <= valid:
            raise ValueError(f"unknown VGG19 output keys {sorted(wanted - valid)}")
        if preprocess:
            x = vgg_preprocess(x)
        out: dict[str, torch.Tensor] = {}
        block = "1"
        for name, _, _ in _VGG19_CONVS:
            if name[4] != block:
                x = F.max_pool2d(x, kernel_size=2, stride=2)
                block = name[4]
            x = F.relu(getattr(self, name)(x))
            key = "r" + name[4] + name[6]
            out[key] = x
            if wanted <= out.keys():
                break
        return [out[k] for k in out_keys]


class ReferenceFeatures(list):
    """SSNet's ``feature_0`` (the first frame's VGG19 maps r12…r52, a list) that also keeps CorrNet's embedding of
    them, so a clip computes it once instead of once per frame. Any other sequence works too, without the memo."""

    def __init__(self, maps: Sequence[torch.Tensor]) -> None:
        super().__init__(maps)
        self.memo_key: tuple | None = None
        self.embedding: torch.Tensor | None = None


def _refl_conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    """ReflectionPad(1) → 3×3 conv (bias) → InstanceNorm → PReLU."""
    return [
        nn.ReflectionPad2d(1),
        nn.Conv2d(cin, cout, 3, stride=stride, padding=0),
        nn.InstanceNorm2d(cout),
        nn.PReLU(),
    ]


class _ResidualBlock(nn.Module):
    """Reflection-padded residual block with one PReLU shared by both activations (keys conv1, prelu, conv2)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=0)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.prelu(F.instance_norm(self.conv1(F.pad(x, (1, 1, 1, 1), mode="reflect")), eps=1e-5))
        y = F.instance_norm(self.conv2(F.pad(y, (1, 1, 1, 1), mode="reflect")), eps=1e-5)
        return self.prelu(y + x)


class WarpNet(nn.Module):
    """Non-local colour warping: softmax-weighted average of the reference Lab (¼ resolution) by feature similarity."""

    def __init__(self, feature_channels: int = 64, inter_channels: int = 256) -> None:
        super().__init__()
        fc = feature_channels
        self.inter_channels = inter_channels
        self.layer2_1 = nn.Sequential(*_refl_conv(128, 128), *_refl_conv(128, fc, stride=2))
        self.layer3_1 = nn.Sequential(*_refl_conv(256, 128), *_refl_conv(128, fc))
        self.layer4_1 = nn.Sequential(*_refl_conv(512, 256), *_refl_conv(256, fc), nn.Upsample(scale_factor=2))
        self.layer5_1 = nn.Sequential(
            *_refl_conv(512, 256), nn.Upsample(scale_factor=2), *_refl_conv(256, fc), nn.Upsample(scale_factor=2)
        )
        self.layer = nn.Sequential(*[_ResidualBlock(fc * 4) for _ in range(3)])
        self.theta = nn.Conv2d(fc * 4, inter_channels, kernel_size=1)
        self.phi = nn.Conv2d(fc * 4, inter_channels, kernel_size=1)

    def _embed(self, f2: torch.Tensor, f3: torch.Tensor, f4: torch.Tensor, f5: torch.Tensor) -> torch.Tensor:
        """Four normalised VGG levels → one 256-channel map at ¼ resolution."""
        f2, f3, f4, f5 = self.layer2_1(f2), self.layer3_1(f3), self.layer4_1(f4), self.layer5_1(f5)
        if f5.shape[-2:] != f2.shape[-2:]:
            f5 = F.pad(f5, (0, 0, 1, 1), mode="replicate")  # official fix-up for sizes not divisible by 16
        return self.layer(torch.cat((f2, f3, f4, f5), 1))

    def _centred_unit(self, conv: nn.Module, feat: torch.Tensor) -> torch.Tensor:
        """1×1 projection, flattened to B×C×N, mean-centred over positions, unit L2 norm over channels."""
        x = conv(feat).flatten(2)
        x = x - x.mean(dim=-1, keepdim=True)
        return x / (torch.linalg.vector_norm(x, 2, dim=1, keepdim=True) + _EPS)

    def embed_reference(self, features_b: Sequence[torch.Tensor]) -> torch.Tensor:
        """The reference side of the correlation (B×256×N): it depends only on the reference and the weights."""
        return self._centred_unit(self.phi, self._embed(*features_b))

    def forward(
        self,
        ib_lab: torch.Tensor,
        features_a: Sequence[torch.Tensor],
        features_b: Sequence[torch.Tensor],
        temperature: float = 0.005,
        phi: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``ib_lab``: B×3×H×W reference (L*−50, a*, b*); features: normalised r22, r32, r42, r52 of A and B
        (``phi`` = :meth:`embed_reference` of B, when already computed, replaces ``features_b``).

        Returns (warped Lab B×3×H×W, similarity map B×1×H×W), both nearest-upsampled ×4 from the feature grid.
        """
        _, ch, h, w = ib_lab.shape
        fh, fw = h // 4, w // 4
        theta = self._centred_unit(self.theta, self._embed(*features_a))
        if phi is None:
            phi = self.embed_reference(features_b)
        f = torch.matmul(theta.transpose(1, 2), phi)  # B×N×N, query (A) positions × reference (B) positions
        b = f.shape[0]  # a batch-1 reference broadcasts over a batch of frames
        similarity = f.max(dim=-1, keepdim=True)[0].view(b, 1, fh, fw)
        f = f.div_(temperature) if not f.requires_grad else f / temperature  # in place saves one N×N buffer
        attention = F.softmax(f, dim=-1)
        del f
        ref = F.avg_pool2d(ib_lab, 4).flatten(2).transpose(1, 2)  # B×N×3
        y = torch.matmul(attention, ref).transpose(1, 2).reshape(b, ch, fh, fw)
        return F.interpolate(y, scale_factor=4, mode="nearest"), F.interpolate(
            similarity, scale_factor=4, mode="nearest"
        )


def wls_smooth_ab(
    l_centred: np.ndarray, lab: np.ndarray, lambda_value: float = 500.0, sigma_color: float = 4.0
) -> np.ndarray:
    """Fast global smoother (WLS) of the a, b planes of ``lab`` (3×H×W float32) guided by uint8 lightness.

    ``l_centred`` is H×W float32 L*−50; the guide is ``uint8((l + 50) * 255 / 100)`` (truncation), as official.
    """
    guide = ((l_centred + np.float32(50.0)) * np.float32(255.0) / np.float32(100.0)).astype(np.uint8)
    smoother = cv2.ximgproc.createFastGlobalSmootherFilter(guide, lambda_value, sigma_color)
    return np.stack([smoother.filter(np.ascontiguousarray(lab[c], dtype=np.float32)) for c in (1, 2)])


def lab_to_cpnet_ab(l_centred: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L*−50, a*, b*) → skimage lab2rgb (float64) → clip → uint8 (truncation) → cv2 RGB2Lab → (a8, b8) / 255.

    Returns (the 2×H×W float32 ab tensor values, the H×W×3 uint8 RGB image of the round trip).
    """
    lab = np.concatenate(((l_centred + np.float32(50.0))[None], ab), 0).astype(np.float64).transpose(1, 2, 0)
    rgb = (np.clip(color.lab2rgb(lab), 0, 1) * 255).astype(np.uint8)
    lab8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    return lab8[:, :, 1:].transpose(2, 0, 1).astype(np.float32) / np.float32(255.0), rgb


@dataclass
class CorrOutputs:
    """Intermediates of one CorrNet pass (float tensors on the input's device, ``rgb_uint8`` on the CPU)."""

    warped_0: torch.Tensor  # B×2×H×W, CPNet ab convention, multiples of 1/255
    similarity: torch.Tensor  # B×1×H×W
    nonlocal_lab: torch.Tensor  # B×3×H×W, WarpNet output (L*−50, a*, b*) before WLS
    wls_ab: torch.Tensor  # B×2×H×W, a*, b* after WLS
    rgb_uint8: torch.Tensor  # B×H×W×3 uint8, the RGB of the round trip


class CorrespondenceNet(nn.Module):
    """CorrNet: warps the first frame's colours onto frame t; output in CPNet ab convention (see module docstring).

    Batch size: the official code supports only B = 1; here every sample of a batch goes through the same
    computation (the WLS step loops over samples), so B ≥ 1 gives per-sample results equal to B = 1 runs.
    """

    def __init__(self, lambda_value: float = 500.0, sigma_color: float = 4.0) -> None:
        super().__init__()
        self.vggnet = VGG19Features()
        self.nonlocal_net = WarpNet()
        self.lambda_value = lambda_value
        self.sigma_color = sigma_color

    @staticmethod
    def _unit(feat: torch.Tensor) -> torch.Tensor:
        return feat / (torch.linalg.vector_norm(feat, 2, dim=1, keepdim=True) + _EPS)

    def _reference_embedding(self, features_b: Sequence[torch.Tensor]) -> torch.Tensor:
        """The non-local net's embedding of the reference; kept on a :class:`ReferenceFeatures` while the weights
        are unchanged (the official code recomputes it for every frame; the result is the same tensor)."""
        net = self.nonlocal_net

        def compute() -> torch.Tensor:
            return net.embed_reference([self._unit(f) for f in features_b[1:]])

        if not isinstance(features_b, ReferenceFeatures):
            return compute()
        if torch.is_grad_enabled() and any(p.requires_grad for p in net.parameters()):
            return compute()  # a trainable non-local net: no memo, gradients must flow
        key = (id(net), tuple(p._version for p in net.parameters()))
        if features_b.memo_key != key:
            features_b.memo_key, features_b.embedding = key, compute()
        return features_b.embedding

    def reference_features(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """VGG19 features r12…r52 of an RGB image in [0,1] (Caffe preprocessing), as SSNet's ``feature_0``."""
        return self.vggnet(rgb, FEATURE_KEYS, preprocess=True)

    def forward_details(
        self, x_t: torch.Tensor, ib_lab: torch.Tensor, features_b: Sequence[torch.Tensor], temperature: float = 0.01
    ) -> CorrOutputs:
        """``x_t``: B×1×H×W L*−50 of frame t; ``ib_lab``: B×3×H×W reference (L*−50, a*, b*); ``features_b``: r12…r52."""
        if len(features_b) != 5:
            raise ValueError(f"features_b must hold the 5 VGG19 maps r12…r52, got {len(features_b)}")
        gray_rgb = ((x_t + 50.0) / 100.0).expand(-1, 3, -1, -1)
        with torch.no_grad():
            feats_a = self.vggnet(gray_rgb, FEATURE_KEYS, preprocess=True)
        fa = [self._unit(f) for f in feats_a[1:]]
        phi = self._reference_embedding(features_b)
        nonlocal_lab, similarity = self.nonlocal_net(ib_lab, fa, (), temperature=temperature, phi=phi)

        l_np = x_t.detach().to("cpu", torch.float32).numpy()
        lab_np = nonlocal_lab.detach().to("cpu", torch.float32).numpy()
        wls, cpnet_ab, rgbs = [], [], []
        for i in range(x_t.shape[0]):
            ab = wls_smooth_ab(l_np[i, 0], lab_np[i], self.lambda_value, self.sigma_color)
            out_ab, rgb = lab_to_cpnet_ab(l_np[i, 0], ab)
            wls.append(ab)
            cpnet_ab.append(out_ab)
            rgbs.append(rgb)
        dev, dt = x_t.device, x_t.dtype
        return CorrOutputs(
            warped_0=torch.from_numpy(np.stack(cpnet_ab)).to(dev, dt),
            similarity=similarity,
            nonlocal_lab=nonlocal_lab,
            wls_ab=torch.from_numpy(np.stack(wls)).to(dev, dt),
            rgb_uint8=torch.from_numpy(np.stack(rgbs)),
        )

    def forward(
        self, x_t: torch.Tensor, ib_lab: torch.Tensor, features_b: Sequence[torch.Tensor], temperature: float = 0.01
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (warped_0 B×2×H×W in CPNet ab convention, similarity map B×1×H×W)."""
        out = self.forward_details(x_t, ib_lab, features_b, temperature)
        return out.warped_0, out.similarity
