"""Lab colour conversions of the official SVCNet pipeline (pure functions, no I/O).

Two Lab encodings are used (docs/official.md §1.2, §1.3):

* cv2-Lab8: OpenCV ``COLOR_RGB2Lab`` on uint8 RGB (L8 = L*·255/100, a8 = a*+128, b8 = b*+128); CPNet, PWC-Net and the
  SSNet colour tensors are these codes /255.
* sk-Lab: scikit-image ``rgb2lab`` float Lab; the CorrNet "transform" input is its L* − 50.

Sizes are always (H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from PIL import Image
from skimage import color

from svcnet.errors import InputError
from svcnet.ops.lightness import DEFAULT_LIGHTNESS, LIGHTNESS_ALIASES, check_lightness

WORK_SIZE = (256, 448)

# D65 white point and the XYZ→linear-sRGB matrix (row-vector convention: rgb = xyz @ RGB_FROM_XYZ).
_WHITE_X, _WHITE_Z = 0.95047, 1.08883
RGB_FROM_XYZ = (
    (3.24048134, -0.96925495, 0.05564664),
    (-1.53715152, 1.87599, -0.20404134),
    (-0.49853633, 0.04155593, 1.05731107),
)


def _check_rgb(rgb: np.ndarray, what: str = "image") -> np.ndarray:
    """Validate a uint8 H×W×3 RGB array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        desc = f"{getattr(rgb, 'dtype', type(rgb).__name__)} {getattr(rgb, 'shape', '')}"
        raise InputError(f"{what} must be a uint8 H×W×3 RGB array, got {desc}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise InputError(f"{what} is empty ({rgb.shape})")
    return np.ascontiguousarray(rgb)


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    if len(size) != 2 or int(size[0]) < 1 or int(size[1]) < 1:
        raise InputError(f"size must be (height, width) with positive values, got {tuple(size)}")
    return int(size[0]), int(size[1])


def rgb_to_lab8(rgb_u8: np.ndarray) -> np.ndarray:
    """cv2-Lab8 codes (uint8 H×W×3: L8, a8, b8) of a uint8 RGB image."""
    return cv2.cvtColor(_check_rgb(rgb_u8), cv2.COLOR_RGB2Lab)


def lab8_to_rgb(lab8: np.ndarray) -> np.ndarray:
    """uint8 RGB of cv2-Lab8 codes (uint8 H×W×3)."""
    if lab8.dtype != np.uint8 or lab8.ndim != 3 or lab8.shape[2] != 3:
        raise InputError(f"Lab8 codes must be a uint8 H×W×3 array, got {lab8.dtype} {lab8.shape}")
    return cv2.cvtColor(np.ascontiguousarray(lab8), cv2.COLOR_Lab2RGB)


def resize_cubic(rgb_u8: np.ndarray, size: Sequence[int] = WORK_SIZE) -> np.ndarray:
    """cv2 INTER_CUBIC resize of a uint8 image to ``size`` = (H, W) (an exact copy when already that size)."""
    h, w = _check_size(size)
    return cv2.resize(rgb_u8, (w, h), interpolation=cv2.INTER_CUBIC)


def preprocessed_lab8(rgb_u8: np.ndarray, size: Sequence[int] = WORK_SIZE) -> np.ndarray:
    """cv2-Lab8 codes (H×W×3 uint8) of the INTER_CUBIC resize to ``size`` (docs/official.md §1.2 steps 2–3)."""
    return rgb_to_lab8(resize_cubic(_check_rgb(rgb_u8), size))


def _codes_to_tensor(codes: np.ndarray) -> torch.Tensor:
    """H×W×C uint8 codes → 1×C×H×W float32 codes/255."""
    t = torch.from_numpy(np.ascontiguousarray(codes.transpose(2, 0, 1))).unsqueeze(0)
    return t.float() / 255


def preprocess_frame(rgb_u8: np.ndarray, size: Sequence[int] = WORK_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """(L8/255 as 1×1×H×W, (a8, b8)/255 as 1×2×H×W) float32 of a uint8 RGB frame: cv2 INTER_CUBIC resize to
    ``size``, cv2-Lab8 (docs/official.md §1.2 steps 2–3). CPNet's and PWC-Net's lightness input is the first tensor."""
    lab = _codes_to_tensor(preprocessed_lab8(rgb_u8, size))
    return lab[:, :1].contiguous(), lab[:, 1:].contiguous()


def preprocess_scribble(rgb_u8: np.ndarray, size: Sequence[int] = WORK_SIZE) -> torch.Tensor:
    """Scribble ab tensor (1×2×H×W, (a8, b8)/255; black = no scribble → 128/255) of a uint8 RGB scribble image."""
    return preprocess_frame(rgb_u8, size)[1]


def _pil_bilinear(rgb_u8: np.ndarray, size: Sequence[int] | None) -> np.ndarray:
    """PIL bilinear resize to ``size`` = (H, W) (torchvision ``Resize`` on a PIL image; identity when equal)."""
    rgb = _check_rgb(rgb_u8)
    if size is None:
        return rgb
    h, w = _check_size(size)
    if rgb.shape[:2] == (h, w):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR))


def transform_lab(rgb_u8: np.ndarray, size: Sequence[int] | None = WORK_SIZE) -> torch.Tensor:
    """The official CorrNet "transform" (docs/official.md §1.2 step 6) of uint8 RGB: PIL bilinear resize to ``size``,
    skimage ``rgb2lab`` (float64), float32, L* − 50. Returns 1×3×H×W (L*−50, a*, b*); ``size=None`` keeps the size."""
    lab = color.rgb2lab(_pil_bilinear(rgb_u8, size)).astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(lab.transpose(2, 0, 1))).unsqueeze(0)
    t[:, 0] -= 50.0
    return t


def transform_l(rgb_u8: np.ndarray, size: Sequence[int] | None = WORK_SIZE) -> torch.Tensor:
    """CorrNet/SSNet lightness input: channel 0 of :func:`transform_lab` (sk-Lab L* − 50), 1×1×H×W float32."""
    return transform_lab(rgb_u8, size)[:, :1].contiguous()


def tensor_lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Differentiable torch Lab (L* in [0, 100], a*, b*; B×3×H×W) → sRGB in [0, 1] (D65), the official
    ``tensor_lab2rgb`` formula (docs/official.md §1.3 step 6), computed in the input's dtype and device."""
    if lab.dim() != 4 or lab.shape[1] != 3:
        raise ValueError(f"expected a B×3×H×W Lab tensor, got {tuple(lab.shape)}")
    hwc = lab.permute(0, 2, 3, 1)
    fy = (hwc[..., 0:1] + 16.0) / 116.0
    fx = hwc[..., 1:2] / 500.0 + fy
    fz = (fy - hwc[..., 2:3] / 200.0).clamp(min=0.0)
    f = torch.cat((fx, fy, fz), dim=3)
    cube = f > 0.2068966
    xyz = torch.where(cube, f.pow(3.0), (f - 16.0 / 116.0) / 7.787)
    white = torch.tensor((_WHITE_X, 1.0, _WHITE_Z), device=lab.device, dtype=lab.dtype)
    xyz = torch.cat((xyz[..., 0:1] * white[0], xyz[..., 1:2], xyz[..., 2:3] * white[2]), dim=3)
    matrix = torch.tensor(RGB_FROM_XYZ, dtype=torch.float64).to(device=lab.device, dtype=lab.dtype)
    rgb = torch.mm(xyz.reshape(-1, 3), matrix).view(hwc.shape)
    srgb_curve = rgb > 0.0031308
    gamma = 1.055 * torch.pow(rgb.clamp(min=0.0031308), 1 / 2.4) - 0.055
    rgb = torch.where(srgb_curve, gamma, 12.92 * rgb).clamp(0.0, 1.0)
    return rgb.permute(0, 3, 1, 2).contiguous()


def lab8_ab_to_rgb(l8: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """cv2-Lab8/255 lightness (B×1×H×W) and ab (B×2×H×W) → clip to [0, 1] → ×255 → uint8 (truncation) → cv2
    Lab2RGB; returns B×H×W×3 uint8 RGB (the official ``cpnet_ab_to_PIL_rgb``, docs/official.md §1.3 step 6)."""
    if l8.dim() != 4 or ab.dim() != 4 or l8.shape[1] != 1 or ab.shape[1] != 2 or l8.shape[-2:] != ab.shape[-2:]:
        raise ValueError(f"expected B×1×H×W lightness and B×2×H×W ab, got {tuple(l8.shape)} and {tuple(ab.shape)}")
    lab = torch.cat((l8, ab), 1).detach().to("cpu", torch.float32).numpy().transpose(0, 2, 3, 1)
    codes = (np.clip(lab, 0, 1) * 255).astype(np.uint8)
    return np.stack([cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_Lab2RGB) for img in codes])


def cpnet_ab_to_reference_rgb(l: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """The SSNet long-range reference image (H×W×3 uint8 RGB) from frame 0's L8/255 (1×1×H×W) and CPNet ab."""
    return lab8_ab_to_rgb(l, ab)[0]


def gray_bt601(rgb_u8: np.ndarray) -> np.ndarray:
    """cv2 ``RGB2GRAY`` (BT.601 luma) of a uint8 RGB image, uint8 H×W."""
    return cv2.cvtColor(_check_rgb(rgb_u8), cv2.COLOR_RGB2GRAY)


def _output_lightness(full: np.ndarray, lightness: str) -> np.ndarray:
    """H0×W0 float32 lightness in [0, 1] from a gray (uint8 or float in [0, 1]) or a uint8 RGB original."""
    if full.ndim == 3:
        if check_lightness(LIGHTNESS_ALIASES.get(lightness, lightness)) == "official":
            return gray_bt601(full).astype(np.float32) / np.float32(255.0)
        return rgb_to_lab8(full)[..., 0].astype(np.float32) / np.float32(255.0)
    if full.ndim != 2:
        raise InputError(f"expected an H×W gray image or an H×W×3 RGB image, got shape {full.shape}")
    if full.dtype == np.uint8:
        return full.astype(np.float32) / np.float32(255.0)
    return full.astype(np.float32)


def compose_output(
    ab_lowres: torch.Tensor,
    gray_full: np.ndarray,
    out_size: Sequence[int] | None = None,
    lightness: str = DEFAULT_LIGHTNESS,
) -> np.ndarray:
    """Final uint8 RGB frame (docs/official.md §1.3 step 8): ab (1×2×h×w, /255 codes) cv2-bilinear-resized to full size,
    joined with the lightness as the Lab L channel, ×255, truncated to uint8, cv2 Lab2RGB.

    ``gray_full``: the original frame's BT.601 gray (H0×W0 uint8, or float in [0, 1]) or the original uint8 RGB frame
    (H0×W0×3), whose lightness is then chosen by ``lightness``: ``"official"`` (BT.601 luma used as L, as the official
    code, docs/official.md §7.6: the lightness differs from the input) or ``"input"`` (alias ``"lab"``: its own cv2-Lab
    L8, so the output keeps the input's lightness up to 8-bit Lab rounding). ``out_size`` = (H0, W0) defaults to the
    size of ``gray_full``.
    """
    if ab_lowres.dim() != 4 or ab_lowres.shape[:2] != (1, 2):
        raise ValueError(f"expected a 1×2×h×w ab tensor, got {tuple(ab_lowres.shape)}")
    light = _output_lightness(np.asarray(gray_full), lightness)
    h0, w0 = _check_size(out_size) if out_size is not None else light.shape[:2]
    if light.shape[:2] != (h0, w0):
        raise InputError(f"lightness is {light.shape[:2]} but the output size is {(h0, w0)}")
    ab = ab_lowres[0].detach().to("cpu", torch.float32).numpy().transpose(1, 2, 0)
    ab = cv2.resize(np.ascontiguousarray(ab), (w0, h0))
    lab = np.concatenate((light[..., None], ab), axis=2) * np.float32(255.0)
    # The official code truncates with astype(uint8); values outside [0, 255] (unclamped SSNet output) are clipped
    # first here instead of relying on numpy's undefined out-of-range cast.
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_Lab2RGB)
