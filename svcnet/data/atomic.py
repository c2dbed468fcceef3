"""Atomic writes: write to a temporary sibling, then rename, so a reader never sees a half-written file."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from svcnet.errors import DiskFullError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)  # the errnos of a full disk or an exhausted quota


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; on success rename it onto ``dest``, on failure remove it.

    Works for files and directories (whatever the body creates at the yielded path).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".tmp{suffix}", dir=dest.parent)
    os.close(fd)
    os.unlink(tmp)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not tmp_path.exists():
            raise FileNotFoundError(f"nothing was written to {tmp_path}")
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.is_dir() and not tmp_path.is_symlink():
            shutil.rmtree(tmp_path, ignore_errors=True)
        elif tmp_path.exists() or tmp_path.is_symlink():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_named_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Like :func:`atomic_path` for one file, but the yielded path has ``dest``'s own name (inside a temporary sibling
    folder): for writers that record the file's name in the file (``torch.save`` names its zip archive after it), so
    the bytes do not depend on the random temporary name."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        tmp = tmp_dir / dest.name
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"nothing was written to {tmp}")
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def write_bytes_atomic(dest: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically (fsync before rename)."""
    try:
        with atomic_path(dest) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise disk_full(dest, len(data)) from exc
        raise


def write_text_atomic(dest: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``dest`` atomically."""
    write_bytes_atomic(dest, text.encode("utf-8"))


def remove_stale_temps(dest: str | os.PathLike) -> list[Path]:
    """Remove temporaries that :func:`atomic_path` left next to ``dest`` when a process was killed; return them.

    Call before starting a long atomic write so a re-run after a crash starts clean (not while another process is
    writing the same ``dest``).
    """
    dest = Path(dest)
    removed = []
    if dest.parent.is_dir():
        for tmp in dest.parent.glob(f".{dest.name}.*.tmp*"):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def link_or_copy(src: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Make ``dest`` a hard link of ``src`` (a copy where the filesystem cannot link), atomically. Safe with files
    that are only ever replaced, never written in place, as every file written here is."""
    with atomic_path(dest) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def free_bytes(path: str | os.PathLike) -> int:
    """Bytes free to this user on the filesystem that holds ``path`` (or its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def disk_full(path: str | os.PathLike | None, needed: int | None = None) -> DiskFullError:
    """The error for a write to ``path`` (None: not known) that found the disk full, with the space free there and
    the bytes ``needed`` when known."""
    then = "free some space or write elsewhere, then run the command again; what was finished before is intact"
    if path is None:
        return DiskFullError(f"no space left on device: {then}")
    want = f", about {needed / 2**20:.0f} MiB needed" if needed else ""
    return DiskFullError(
        f"no space left on the disk holding {path} ({free_bytes(path) / 2**20:.0f} MiB free{want}): {then}"
    )
