"""A lab's shared DVC cache, checked on a clone that has just run `dvc repro`: a DVC remote in a local folder,
`dvc push`, dvc.lock committed; a second clone runs `dvc pull` and `dvc repro --allow-missing`, which runs no stage
but the always-run preflight check and leaves the same metric files."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_USER = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def _run(args: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def check_shared_cache(clone: Path, tmp_path: Path, metrics: list[str], env: dict) -> None:
    """``clone``: a git clone whose `dvc repro` has finished; ``metrics``: its metric files (relative paths)."""
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    _run(["dvc", "remote", "add", "--default", "lab", str(remote)], clone, env)
    _run(["dvc", "push"], clone, env)
    assert any(remote.rglob("*")), "dvc push stored nothing: no stage output is cached"
    # what a lab commits: the remote's configuration (.dvc/config) and dvc.lock (the hashes of every output)
    _run(["git", "add", ".dvc/config", "dvc.lock", "config/config.yaml"], clone, env)
    _run(["git", *GIT_USER, "commit", "-qm", "shared results"], clone, env)
    second = tmp_path / "second"
    _run(["git", "clone", "-q", str(clone), str(second)], tmp_path, env)
    _run(["dvc", "pull"], second, env)
    out = _run(["dvc", "repro", "--allow-missing"], second, env)
    ran = [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")]
    assert ran in ([], ["preflight"]), out
    for rel in metrics:
        assert (second / rel).read_bytes() == (clone / rel).read_bytes(), rel
