"""One Snakemake run of the test profile (tests/test_dag.py's `dagtest`, trained by 2 processes) per test session,
shared by every pytest-xdist worker: the first test that asks for it runs the pipeline under a file lock, the others
wait for it and reuse the result. tests/test_dag.py checks its outputs and no-op re-run, tests/test_determinism.py
compares it byte for byte with a second run, tests/test_scaleout.py trains the 1-process reference on its lmdb and
compares the SLURM run with it. Its users only read it (a test that edits it works on a copy); conftest.py removes it
when the session ends."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

FOLDER = "dagtest-run"  # under the session's temporary root, shared by the xdist workers
# Not compared: files that record how long things took (the training folders' log.csv with it/s, summary.json,
# TensorBoard events) and the report (its training table shows that speed): README, *Reproducibility*.
NOT_COMPARED = ("log.csv", "summary.json")
ROOT_MARK = b"<workspace>"  # what a workspace's own absolute path becomes in compared files (inference metadata)


@dataclasses.dataclass(frozen=True)
class DagRun:
    """The workspace of the run and the sha256 of every compared output (relative path -> digest)."""

    ws: Path
    hashes: dict[str, str]


def session_root(tmp_path_factory) -> Path:
    """The temporary folder every worker of this session sees (the controller's basetemp under xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_run(tmp_path_factory, profile: str, make_workspace) -> DagRun:
    """The session's run of ``profile`` in a workspace made by ``make_workspace(path)``; run once, under a lock."""
    root = session_root(tmp_path_factory) / FOLDER
    root.mkdir(exist_ok=True)
    record = root / "hashes.json"
    with FileLock(root / "lock"):
        if not record.is_file():
            shutil.rmtree(root / "svcnet", ignore_errors=True)  # what a failed attempt (another worker's) left
            ws = make_workspace(root / "svcnet")
            run_pipeline(ws, profile)
            record.write_text(json.dumps(output_hashes(ws, profile), indent=1, sort_keys=True))
    return DagRun(root / "svcnet", json.loads(record.read_text()))


def run_pipeline(ws: Path, profile: str) -> None:
    """`snakemake --cores 2` of ``profile`` in ``ws`` (one OpenMP thread per process)."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "OMP_NUM_THREADS": "1",
    }
    cmd = ["snakemake", "--cores", "2", "--config", f"profile={profile}"]
    proc = subprocess.run(cmd, cwd=ws, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def compared(rel: str) -> bool:
    parts = Path(rel).parts
    return parts[0] in ("data", "results", "metrics") and "tensorboard" not in parts and parts[-1] not in NOT_COMPARED


def output_hashes(ws: Path, profile: str) -> dict[str, str]:
    """sha256 of every compared output of ``profile`` in ``ws``, the workspace's absolute path replaced by
    :data:`ROOT_MARK` (inference metadata records its input, scribbles and weights by absolute path)."""
    here = str(ws.resolve()).encode()
    hashes = {}
    for path in sorted(ws.rglob("*")):
        rel = path.relative_to(ws).as_posix()
        if path.is_file() and compared(rel) and profile in rel:
            hashes[rel] = hashlib.sha256(path.read_bytes().replace(here, ROOT_MARK)).hexdigest()
    return hashes
