"""CPU threads and instruction sets of a training process (``train.threads``, ``train.cpu_isa``), and the record of
them kept with each stage's outputs.

CPU kernels are deterministic for a given instruction set and thread count, but oneDNN's AVX-512 convolutions split
their reductions by thread, so the bits depend on both. ``cpu_isa: avx2`` caps oneDNN, ATen's vectorised kernels and
MKL at AVX2 (the common set of x86-64 machines of the last decade); measured movement and cost: README
(*Reproducibility*) and ``bench/reproducibility.py``.
"""

from __future__ import annotations

import logging
import os

import torch

from svcnet.errors import ConfigError

log = logging.getLogger(__name__)

CPU_ISAS = ("native", "avx2")
# Environment variables read by oneDNN, ATen and MKL when their first kernel runs.
_ISA_ENV = {
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
}


def default_threads(local_world_size: int = 1) -> int:
    """``train.threads: 0``: torch's own count (``OMP_NUM_THREADS``, else one per core) for a single process; under
    torchrun the cores shared among the processes it starts on this machine."""
    if local_world_size > 1:
        return max(1, (os.cpu_count() or 1) // local_world_size)
    return torch.get_num_threads()


def isa_environment(cpu_isa: str) -> dict[str, str]:
    """The environment variables that select ``cpu_isa`` (none for ``native``)."""
    if cpu_isa not in CPU_ISAS:
        raise ConfigError(f"train.cpu_isa must be one of {', '.join(CPU_ISAS)}, not {cpu_isa!r}")
    return dict(_ISA_ENV.get(cpu_isa, {}))


def configure_cpu(threads: int, cpu_isa: str, local_world_size: int = 1) -> dict[str, object]:
    """Fix this process's CPU thread count (0 = :func:`default_threads`) and instruction-set cap; call before the
    first tensor operation. Returns what was set (the provenance recorded with the stage's outputs)."""
    env = isa_environment(cpu_isa)
    os.environ.update(env)
    wanted = env.get("ATEN_CPU_CAPABILITY")
    got = torch.backends.cpu.get_cpu_capability()
    if wanted is not None and got.lower() != wanted:
        raise ConfigError(
            f"train.cpu_isa {cpu_isa}: the CPU kernels were already chosen ({got}); set "
            + " ".join(f"{k}={v}" for k, v in env.items())
            + " in the environment of the command"
        )
    n = threads if threads > 0 else default_threads(local_world_size)
    torch.set_num_threads(n)
    return cpu_provenance(cpu_isa)


def cpu_provenance(cpu_isa: str = "native") -> dict[str, object]:
    """Threads, instruction-set setting and ATen's kernel level of this process (for run.json / summary.json)."""
    return {
        "threads": torch.get_num_threads(),
        "cpu_isa": cpu_isa,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
    }
