"""PFAN saliency maps: load the public PyTorch port's checkpoint strictly, run it with the port's preprocessing.

Preprocessing (the port's inference loader): pad the frame to a square with black, resize to ``size``×``size``
(cv2 INTER_AREA, 256 by default), RGB/255, ImageNet mean/std. The probability map is cropped back to the frame's
area and resized (bilinear) to the frame size, then stored as uint8 ``round(255·p)``. One difference: when the
padding is odd the port pads ``floor`` on both sides (the square is one pixel short); here the extra row/column goes
to the bottom/right so the square is exact.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import torch

from svcnet.errors import CheckpointError
from svcnet.models.checkpoint import load_official, unwrap_state_dict
from svcnet.models.pfan import PFAN, normalise


def read_pfan_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state_dict of a PFAN checkpoint file: the port saves ``{'model': state_dict, ...}``; a bare state_dict
    (or ``{'state_dict': ...}``) is accepted too."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"PFAN checkpoint not found: {path}") from None
    except Exception as exc:
        raise CheckpointError(
            f"cannot read PFAN checkpoint {path} ({exc.__class__.__name__}: {' '.join(str(exc).split())[:200]})"
        ) from exc
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    return unwrap_state_dict(obj, str(path))


def load_pfan(path: str | os.PathLike | Mapping[str, torch.Tensor], device: torch.device | str = "cpu") -> PFAN:
    """PFAN with the weights of ``path`` (or a state_dict), strict: key names must match the sairajk port's
    checkpoint (svcnet.models.pfan); otherwise CheckpointError lists the missing/unexpected keys."""
    state = path if isinstance(path, Mapping) else read_pfan_state(path)
    with torch.device("meta"):  # no random initialisation: every value comes from the checkpoint (strict load)
        net = PFAN()
    net = net.to_empty(device="cpu")
    try:
        net = load_official(net, state, what="PFAN")
    except CheckpointError as exc:
        raise CheckpointError(
            f"{exc} (PFAN parameter names must match the sairajk PyTorch port, "
            "best-model_epoch-204_mae-0.0505_loss-0.1370.pth; see svcnet/models/pfan.py)"
        ) from None
    return net.to(device).eval()


def pad_to_square(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The frame on a black square canvas (top-left offsets returned)."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    out = np.zeros((side, side, 3), np.uint8)
    out[top : top + h, left : left + w] = rgb
    return out, (top, left)


@torch.no_grad()
def pfan_saliency(net: PFAN, frames: Sequence[np.ndarray], size: int = 256, batch: int = 4) -> list[np.ndarray]:
    """uint8 H×W saliency maps of uint8 RGB frames."""
    device = next(net.parameters()).device
    out: list[np.ndarray] = []
    for start in range(0, len(frames), batch):
        chunk = frames[start : start + batch]
        squares = [pad_to_square(f) for f in chunk]
        x = np.stack([cv2.resize(sq, (size, size), interpolation=cv2.INTER_AREA) for sq, _ in squares])
        t = torch.from_numpy(x).permute(0, 3, 1, 2).to(device, torch.float32) / 255.0
        prob = net(normalise(t))[:, 0].float().cpu().numpy()
        for p, f, (sq, (top, left)) in zip(prob, chunk, squares):
            h, w = f.shape[:2]
            full = cv2.resize(p, (sq.shape[1], sq.shape[0]), interpolation=cv2.INTER_LINEAR)
            out.append(np.round(np.clip(full[top : top + h, left : left + w], 0, 1) * 255).astype(np.uint8))
    return out
