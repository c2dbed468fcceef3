"""The colorize job of a project: ``svcnet colorize`` on the whole clip or on one shot's frames in a separate
process, its state kept in the project folder (``job/job.json``: what is run, how far it got, how it ended) so a
reloaded page, or a restarted studio, finds it again.

Steps of a job: :func:`svcnet.infer.run.colorize_files` reads the project's keyframe scribbles (``scribbles/``, the
format ``svcnet colorize --scribbles`` reads; each carried to the other frames of its shot as ``svcnet colorize``
does) and writes ``job/result/`` (PNG frames, ``colorized.mp4``, ``metadata.json``), then ``job/frames.zip`` holds
the PNG frames. Progress is read from the frames the job has written so far (one step per frame).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from svcnet.data.atomic import atomic_path, write_text_atomic
from svcnet.errors import InputError, SvcnetError
from svcnet.infer.models import WeightOptions
from svcnet.infer.writers import WorkFolder

if TYPE_CHECKING:
    from svcnet.infer.run import ColorizeRequest

STATE = "job.json"
LOG = "job.log"
RESULT = "result"
ZIP = "frames.zip"

_children: dict[int, subprocess.Popen] = {}


def job_dir(project_folder: Path) -> Path:
    return Path(project_folder) / "job"


def read_state(project_folder: Path) -> dict | None:
    path = job_dir(project_folder) / STATE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_state(project_folder: Path, state: dict) -> None:
    write_text_atomic(job_dir(project_folder) / STATE, json.dumps(state, indent=2) + "\n")


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def status(project_folder: Path) -> dict:
    """The job's state (``none``, ``running``, ``done``, ``failed``), its progress ``step``/``steps`` and message."""
    project_folder = Path(project_folder)
    state = read_state(project_folder)
    if state is None:
        return {"state": "none", "step": 0, "steps": 0, "message": "no colorize job yet"}
    pid = state.get("pid")
    starting = pid is None and time.time() - state.get("started", 0.0) < 60  # between the two writes of start()
    if state["state"] == "running" and not starting and (pid is None or not _alive(pid)):
        state = read_state(project_folder) or state  # it may have finished just now
        if state["state"] == "running":
            state.update(state="failed", message=f"the job stopped without finishing; see {_log(project_folder)}")
            _write_state(project_folder, state)
    jd = job_dir(project_folder)
    n = state["frames"]
    if state["state"] == "done":
        step = n
    else:
        written = WorkFolder(jd / RESULT).out_dir / "frames"
        step = min(len(list(written.glob("*.png"))), n) if written.is_dir() else 0
    return {**state, "step": step, "steps": n}


def _log(project_folder: Path) -> Path:
    return job_dir(project_folder) / LOG


def start(
    project_folder: Path,
    frames: int,
    opts: WeightOptions,
    work_size: tuple[int, int],
    span: tuple[int, int] | None = None,
    what: str = "whole clip",
) -> dict:
    """Start the colorize job in a child process: the whole clip of ``frames`` frames, or only its frames
    ``span[0]`` … ``span[1] - 1`` (one shot; ``what`` names it for the page). InputError when one is already running."""
    project_folder = Path(project_folder)
    current = status(project_folder)
    if current["state"] == "running":
        raise InputError(
            f"a colorize job is already running ({current['step']} of {current['steps']} steps); wait for it to finish"
        )
    jd = job_dir(project_folder)
    (jd / ZIP).unlink(missing_ok=True)
    jd.mkdir(parents=True, exist_ok=True)
    request = {
        "weights": {k: (str(v) if v is not None else None) for k, v in vars(opts).items()},
        "work_size": list(work_size),
        "span": list(span) if span is not None else None,
        "what": what,
    }
    if span is not None:
        frames = span[1] - span[0]
    state = {"state": "running", "pid": None, "frames": frames, "request": request, "started": time.time()}
    _write_state(project_folder, state)
    with open(_log(project_folder), "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "svcnet.studio.jobs", str(project_folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _children[child.pid] = child
    state["pid"] = child.pid
    _write_state(project_folder, state)
    return status(project_folder)


# ------------------------------------------------------------------------------------------------- the child side
def write_zip(frames_dir: Path, dest: Path) -> None:
    """The PNG frames in one zip (stored, fixed timestamps: the same frames give the same bytes)."""
    with atomic_path(dest, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for png in sorted(frames_dir.glob("*.png")):
            info = zipfile.ZipInfo(f"frames/{png.name}", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, png.read_bytes())


def colorize_request(project_folder: Path, request: dict) -> ColorizeRequest:
    """The ``svcnet colorize`` request of a job: the project's input and keyframe scribbles, the whole clip with its
    shots found as the studio finds them, or one shot's frames as one shot."""
    from svcnet.infer.run import ColorizeRequest
    from svcnet.studio.project import META, SCRIBBLES

    span = request.get("span")
    return ColorizeRequest(
        input=json.loads((project_folder / META).read_text())["input"],
        scribbles=str(project_folder / SCRIBBLES),
        work_size=tuple(request["work_size"]),
        start_frame=span[0] if span else 0,
        max_frames=span[1] - span[0] if span else None,
        shots="none" if span else "auto",
    )


def run_job(project_folder: Path) -> None:
    """The child: colourise the clip (or the shot) from the keyframes, zip the frames; the state file says how it
    ended."""
    from svcnet.infer.run import colorize_files
    from svcnet.studio.project import SCRIBBLES

    state = read_state(project_folder)
    request = state["request"]
    opts = WeightOptions(**{k: (Path(v) if v else None) for k, v in request["weights"].items()})
    try:
        if not any((project_folder / SCRIBBLES).glob("*.png")):
            raise InputError("no scribbles painted yet: paint at least one keyframe and save it")
        out = job_dir(project_folder) / RESULT
        meta = colorize_files(colorize_request(project_folder, request), out, opts, force=True, progress=False)
        write_zip(out / "frames", job_dir(project_folder) / ZIP)
        n = len(json.loads(meta.read_text())["frames"])
        state.update(state="done", message=f"colorized {n} frames ({request.get('what', 'whole clip')})")
        state.update(finished=time.time())
    except SvcnetError as exc:
        state.update(state="failed", message=str(exc), finished=time.time())
    except Exception as exc:
        state.update(state="failed", message=f"{type(exc).__name__}: {exc}", finished=time.time())
        _write_state(project_folder, state)
        raise
    _write_state(project_folder, state)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_job(Path(sys.argv[1]))
