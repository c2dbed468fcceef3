"""Training checkpoints: one folder per saved iteration, written atomically, plus a ``latest`` pointer.

``<out>/checkpoints/iter_00001000/`` holds ``<network>.pth`` (the network's plain state_dict in the official key layout,
fp32, contiguous, CPU: loadable by ``svcnet colorize`` and by the official code) and ``state.pt`` (optimizer, scheduler,
AMP scaler, RNG states, iteration, losses so far). The folder is renamed into place only when complete, then
``latest.txt`` is rewritten atomically, so a kill at any moment leaves the previous checkpoint intact. Older folders
beyond ``keep`` are removed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from svcnet.data.atomic import atomic_path, remove_stale_temps, write_text_atomic
from svcnet.errors import CheckpointError
from svcnet.models.checkpoint import save_torch_file

log = logging.getLogger(__name__)

CKPT_DIR = "checkpoints"
LATEST = "latest.txt"
STATE = "state.pt"
_ITER_DIR = re.compile(r"^iter_(\d{8})$")


def plain_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` unwrapped from DDP, detached, contiguous, on the CPU (the official file layout)."""
    module = getattr(module, "module", module)
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def save_weights(path: str | os.PathLike, state_dict: Mapping[str, torch.Tensor]) -> None:
    """``torch.save`` a state_dict atomically (byte-identical for identical weights)."""
    save_torch_file(dict(state_dict), path)


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state_dict saved by :func:`save_weights` (or any plain state_dict file), read with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated or foreign file
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({exc.__class__.__name__}: {exc})") from exc


def checkpoint_root(out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / CKPT_DIR


def save_checkpoint(
    out_dir: str | os.PathLike,
    iteration: int,
    weights: Mapping[str, Mapping[str, torch.Tensor]],
    state: Mapping[str, Any],
    keep: int = 2,
) -> Path:
    """Write ``weights`` (network name → state_dict) and the training ``state`` as checkpoint ``iteration``."""
    root = checkpoint_root(out_dir)
    final = root / f"iter_{iteration:08d}"
    remove_stale_temps(final)
    with atomic_path(final) as tmp:
        tmp.mkdir(parents=True)
        for name, sd in weights.items():
            save_torch_file(dict(sd), tmp / f"{name}.pth")
        save_torch_file(dict(state, iteration=iteration), tmp / STATE)
    write_text_atomic(root / LATEST, final.name + "\n")
    for old in sorted(p for p in root.iterdir() if _ITER_DIR.match(p.name))[:-keep] if keep > 0 else []:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The folder named by ``latest.txt`` (or, if that is missing, the newest complete ``iter_*`` folder)."""
    root = checkpoint_root(out_dir)
    pointer = root / LATEST
    if pointer.is_file():
        cand = root / pointer.read_text().strip()
        if (cand / STATE).is_file():
            return cand
    found = sorted(p for p in root.glob("iter_*") if _ITER_DIR.match(p.name) and (p / STATE).is_file())
    return found[-1] if found else None


def checkpoint_file(folder: str | os.PathLike | None, name: str, iteration: int) -> Path | None:
    """Network ``name``'s weights file in checkpoint ``folder`` when that folder is iteration ``iteration``'s."""
    if folder is None or Path(folder).name != f"iter_{iteration:08d}":
        return None
    path = Path(folder) / f"{name}.pth"
    return path if path.is_file() else None


def load_checkpoint(folder: str | os.PathLike, names: list[str]) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """(network name → state_dict, training state) of a checkpoint folder written by :func:`save_checkpoint`."""
    folder = Path(folder)
    weights = {n: load_weights(folder / f"{n}.pth") for n in names}
    try:
        state = torch.load(folder / STATE, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{folder / STATE}: unreadable training state ({exc})") from exc
    return weights, state
