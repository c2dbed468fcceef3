"""Deterministic, resumable sample streams: the data of global sample number ``n`` depends only on (seed, n).

Iteration ``i`` of a job with ``world`` processes and per-process batch ``B`` uses the global samples
``i·B·world + rank·B + j`` (j < B), so an uninterrupted run, a resumed run and runs with other worker counts draw the
same data, and a 2-process run sees exactly the samples of a 1-process run with batch 2·B. With gradient
accumulation the loop counts micro-steps here (``accumulation`` per optimiser step), so a 1-process run accumulating
2 micro-batches of B also sees those samples, in the same optimiser steps.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

from svcnet.train.rng import sample_seed


class IterationSampler(Sampler[int]):
    """Global sample numbers of this process for iterations ``start`` … ``stop - 1`` (batched by the DataLoader)."""

    def __init__(self, start: int, stop: int, batch_size: int, world_size: int = 1, rank: int = 0) -> None:
        self.start, self.stop, self.batch, self.world, self.rank = start, stop, batch_size, world_size, rank

    def __iter__(self) -> Iterator[int]:
        for it in range(self.start, self.stop):
            base = (it * self.world + self.rank) * self.batch
            yield from range(base, base + self.batch)

    def __len__(self) -> int:
        return max(0, self.stop - self.start) * self.batch


class EpochShuffle:
    """Maps a global sample number to a dataset item: a fresh seeded permutation of the ``n`` items per epoch
    (the official ``shuffle=True`` DataLoader, made reproducible)."""

    def __init__(self, n: int, seed: int) -> None:
        if n < 1:
            raise ValueError("EpochShuffle needs at least one item")
        self.n, self.seed = n, seed
        self._epoch, self._perm = -1, np.arange(n)

    def item(self, sample: int) -> int:
        epoch, pos = divmod(sample, self.n)
        if epoch != self._epoch:
            self._perm = np.random.default_rng(sample_seed(self.seed, epoch, stream=1)).permutation(self.n)
            self._epoch = epoch
        return int(self._perm[pos])


def sample_rng(seed: int, sample: int) -> np.random.Generator:
    """The NumPy generator of global sample ``sample`` (crop positions, scribbles, window starts)."""
    return np.random.default_rng(sample_seed(seed, sample, stream=2))
