"""Methods a pipeline run evaluates (``evaluate.methods``), for DAG stages that exist for every profile: DVC has one
fixed stage list, so the stages of a method a profile does not name (the released weights, for the demo) run as a
recorded skip instead (``--if-listed`` of ``svcnet infer-set`` / ``evaluate``; ``svcnet report`` leaves them out)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from svcnet.data.atomic import write_text_atomic
from svcnet.evaluate.settings import read_section

SKIPPED_FILE = "skipped.json"


def unlisted_reason(method: str, config: Sequence[os.PathLike] | None, profile: str | None) -> str | None:
    """Why ``method`` is not run under this configuration (not in its evaluate.methods), or None when it is."""
    methods = read_section(config, profile).methods
    if method in methods:
        return None
    return f"{method} is not in evaluate.methods ({', '.join(methods)}) of this configuration"


def write_skipped(out: str | os.PathLike, method: str, reason: str, metrics: str | os.PathLike | None = None) -> None:
    """Record the skip: ``out/skipped.json`` (and the same as the ``--metrics`` file when one is asked for)."""
    text = json.dumps({"method": method, "skipped": reason}, indent=2, sort_keys=True) + "\n"
    Path(out).mkdir(parents=True, exist_ok=True)
    write_text_atomic(Path(out) / SKIPPED_FILE, text)
    if metrics is not None:
        Path(metrics).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(metrics, text)


def is_skipped(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is the recorded skip of a method the configuration does not evaluate."""
    return (Path(folder) / SKIPPED_FILE).is_file()
