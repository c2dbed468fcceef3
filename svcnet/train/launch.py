"""How the training command is launched for ``train.processes`` processes on one node: ``svcnet`` itself for one,
``torchrun --standalone`` (one process per GPU, or per CPU slot with gloo) for several."""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

TORCHRUN_OPTIONS = ("--standalone", "--nnodes", "1", "--nproc_per_node")


def launcher(processes: int) -> str:
    """The start of a DAG rule's training command: ``svcnet``, or ``torchrun ... -m svcnet`` for several processes."""
    if processes <= 1:
        return "svcnet"
    return " ".join(("torchrun", *TORCHRUN_OPTIONS, str(processes), "-m", "svcnet"))


def under_torchrun() -> bool:
    """True in a process started by torchrun (it sets WORLD_SIZE)."""
    return "WORLD_SIZE" in os.environ


def relaunch_under_torchrun(processes: int, argv: list[str]) -> None:
    """Replace this process by torchrun running ``svcnet ARGV`` in ``processes`` processes (same interpreter)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", *TORCHRUN_OPTIONS, str(processes), "-m", "svcnet", *argv]
    log.info("train.processes is %d: launching %s", processes, " ".join(cmd))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, cmd)
