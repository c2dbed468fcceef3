"""PWC-Net cost volume (the official CuPy ``Correlation``, docs/official.md §2.5), in pure torch with a CuPy fast path.

``out[b, c, y, x] = Σ_ch first[b, ch, y, x] · second[b, ch, y + dy, x + dx] / C`` for the 81 displacements
``(dy, dx) = (c // 9 − 4, c % 9 − 4)``; positions outside ``second`` read zeros (kernel size 1, stride 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_DISPLACEMENT = 4


def displacements(max_displacement: int = MAX_DISPLACEMENT) -> list[tuple[int, int]]:
    """(dy, dx) of each output channel, in channel order (row-major over dy, then dx)."""
    r = range(-max_displacement, max_displacement + 1)
    return [(dy, dx) for dy in r for dx in r]


def _check(first: torch.Tensor, second: torch.Tensor) -> None:
    if first.dim() != 4 or first.shape != second.shape:
        raise ValueError(
            f"correlation needs two B×C×H×W tensors of one shape, got {tuple(first.shape)} and {tuple(second.shape)}"
        )


def correlation_torch(
    first: torch.Tensor, second: torch.Tensor, max_displacement: int = MAX_DISPLACEMENT
) -> torch.Tensor:
    """Cost volume in plain torch (any device, differentiable): one channel-mean product per displacement,
    so the extra memory is one B×C×H×W product at a time."""
    _check(first, second)
    d = max_displacement
    h, w = first.shape[-2:]
    padded = F.pad(second, (d, d, d, d))
    out = first.new_empty(first.shape[0], (2 * d + 1) ** 2, h, w)
    for c, (dy, dx) in enumerate(displacements(d)):
        shifted = padded[:, :, d + dy : d + dy + h, d + dx : d + dx + w]
        out[:, c] = (first * shifted).sum(1) / first.shape[1]
    return out


def correlation(first: torch.Tensor, second: torch.Tensor, max_displacement: int = MAX_DISPLACEMENT) -> torch.Tensor:
    """B×(2d+1)²×H×W cost volume of ``first`` against ``second``; a CuPy CUDA kernel for float32 CUDA tensors when
    CuPy has a usable GPU, otherwise :func:`correlation_torch`."""
    _check(first, second)
    if first.is_cuda and first.dtype == torch.float32 and second.dtype == torch.float32:
        from svcnet.ops import correlation_cupy

        if correlation_cupy.usable():
            return correlation_cupy.correlation_cupy(first, second, max_displacement)
    return correlation_torch(first, second, max_displacement)
