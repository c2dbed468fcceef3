"""Capture and restore every random number generator a training step touches (exact resume)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def _numpy_state() -> tuple:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)


def rng_state() -> dict[str, Any]:
    """The states (loadable with ``weights_only=True``) of Python's, NumPy's and torch's (CPU and every CUDA
    device) global generators."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore generators saved by :func:`rng_state` (CUDA states only when CUDA is present)."""
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def sample_seed(seed: int, sample: int, stream: int = 0) -> int:
    """A 63-bit seed for global sample number ``sample``: a sample's data depends on nothing else, so a resumed run
    (any number of workers or processes) draws exactly the samples an uninterrupted run would."""
    return int(np.random.SeedSequence([seed, sample, stream]).generate_state(1, np.uint64)[0]) & (2**63 - 1)
