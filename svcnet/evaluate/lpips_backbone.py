"""Find and load the LPIPS AlexNet backbone (registry name ``lpips_alexnet``) without downloading anything.

Looked for, in order: an explicit path (``--lpips-weights`` / ``evaluate.lpips_weights``), the weights folder
(``$SVCNET_WEIGHTS`` or ``./weights``, where ``svcnet fetch lpips_alexnet`` puts it), then torchvision's cache
``$TORCH_HOME/hub/checkpoints/``. When none is there LPIPS is reported as ``n/a`` with the reason, never guessed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from svcnet.errors import SvcnetError

REGISTRY_NAME = "lpips_alexnet"
FILE_NAME = "alexnet-owt-7be5be79.pth"


@dataclass(frozen=True)
class LpipsSetup:
    """The LPIPS network (None when unavailable), the backbone file used and why LPIPS is missing."""

    model: torch.nn.Module | None
    backbone: str | None
    reason: str | None


def _candidates(path: str | os.PathLike | None) -> list[Path]:
    if path is not None:
        return [Path(path)]
    from svcnet.sources import default_weights_dir

    return [default_weights_dir() / FILE_NAME, Path(torch.hub.get_dir()) / "checkpoints" / FILE_NAME]


def load_lpips(
    path: str | os.PathLike | None = None, device: torch.device | str = "cpu", verify: bool = True
) -> LpipsSetup:
    """LPIPS (AlexNet, v0.1) on ``device`` from the first backbone found; an unverifiable or absent file gives
    ``model=None`` and the reason (an explicit ``path`` that does not exist is an error)."""
    from svcnet.metrics.perceptual import build_lpips
    from svcnet.sources import resolve_weight

    candidates = _candidates(path)
    if path is not None and not candidates[0].is_file():
        raise SvcnetError(
            f"LPIPS backbone not found: {candidates[0]} (give the torchvision {FILE_NAME}, "
            f"`svcnet fetch {REGISTRY_NAME}`)"
        )
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        where = " or ".join(str(c) for c in candidates)
        return LpipsSetup(
            None,
            None,
            f"LPIPS backbone {FILE_NAME} not found in {where}; get it with "
            f"`svcnet fetch {REGISTRY_NAME}` or pass --lpips-weights",
        )
    try:
        resolve_weight(REGISTRY_NAME, path=found, verify=verify)
        state = torch.load(found, map_location="cpu", weights_only=True)
        model = build_lpips(state)
    except (SvcnetError, RuntimeError, OSError, KeyError, ValueError) as exc:
        return LpipsSetup(None, str(found), f"LPIPS backbone {found} unusable: {' '.join(str(exc).split())[:300]}")
    return LpipsSetup(model.to(device), str(found), None)
