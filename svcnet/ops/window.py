"""The pieces of SVCNet's 7-frame window shared by inference (streaming, official loop) and training (pure tensor
functions)."""

from __future__ import annotations

import torch

WINDOW = 7  # frames t-3..t+3: SSNet's input in inference and training
HALF = WINDOW // 2
NEIGHBOUR_OFFSETS = tuple(o for o in range(-HALF, HALF + 1) if o)  # -3..-1, 1..3: SSNet's p_t_list / mask_list order
PREVIOUS_SLOT = 2  # index of the t-1 neighbour: its flow warps the recurrent input, its mask goes with it
MASK_PARA = 200.0


def reflect_index(j: int, n: int | None) -> int:
    """Index ``j`` mirrored into ``[0, n-1]`` about the first and last frame (``-1 → 1``, ``n → n-2``).

    ``n=None`` (clip length not known yet) mirrors only about the first frame.
    """
    if n is None:
        return abs(j)
    if n == 1:
        return 0
    period = 2 * (n - 1)
    j %= period
    return period - j if j >= n else j


def visibility_masks(
    warped_l: torch.Tensor, centre_l: torch.Tensor, mask_para: float = MASK_PARA, channels: int = 3
) -> torch.Tensor:
    """Official visibility mask ``exp(-mask_para · (Σ_c (warped − centre)_c)²)`` on the C-times replicated lightness.

    ``warped_l``: K×1×H×W backward-warped neighbour lightness (L8/255), ``centre_l``: 1×1×H×W; the official code
    sums the difference over its 3 identical channels before squaring, which ``channels=3`` reproduces exactly
    (``d + d + d`` and ``3·d`` round to the same float).
    """
    diff = (warped_l - centre_l) * float(channels)
    return torch.exp(-mask_para * diff.pow(2))
