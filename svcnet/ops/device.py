"""The torch device a stage runs on: one rule for inference, training, evaluation, saliency and scribbles."""

from __future__ import annotations

import re

import torch

from svcnet.errors import SvcnetError

DEVICE_CHOICES = ("auto", "cpu", "cuda")
MAX_CPU_THREADS = 16  # the most intra-op threads an inference or evaluation process takes on a many-core machine
_CUDA_INDEXED = re.compile(r"cuda:(\d+)")


def resolve_device(name: str = "auto", cuda_index: int | None = None) -> torch.device:
    """``auto`` → CUDA when available, else the CPU; ``cpu``; ``cuda`` (or ``cuda:N``), an error without a GPU.

    ``cuda_index``: the GPU that ``auto`` and a plain ``cuda`` mean (a torchrun process's local rank); None leaves
    the device unindexed (the current GPU).
    """
    indexed = _CUDA_INDEXED.fullmatch(name)
    if name not in DEVICE_CHOICES and indexed is None:
        raise SvcnetError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SvcnetError(f"device {name!r} was asked for but no CUDA GPU is available; use device cpu or auto")
    if indexed is not None:
        return torch.device("cuda", int(indexed.group(1)))
    return torch.device("cuda", cuda_index) if cuda_index is not None else torch.device("cuda")


def cap_cpu_threads(limit: int = MAX_CPU_THREADS) -> None:
    """Use at most ``limit`` intra-op CPU threads (torch starts with one per core); never fewer than one."""
    torch.set_num_threads(max(1, min(torch.get_num_threads(), limit)))
