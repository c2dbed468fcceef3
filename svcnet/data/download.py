"""Verified HTTP downloads: streamed into ``<dest>.part`` (resumed with an HTTP Range request), sha256 and size checked
before the file is renamed onto ``dest``. A failed download leaves nothing at ``dest``; only a ``.part`` file that a
re-run can resume stays behind (never one whose content failed verification).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

from svcnet.data.atomic import NO_SPACE, disk_full, free_bytes
from svcnet.errors import ChecksumError, DiskFullError, SvcnetError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DEFAULT_TIMEOUT = 60.0
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class DownloadError(SvcnetError):
    """A URL could not be fetched completely (HTTP error, connection lost, stalled)."""


class DownloadTimeout(DownloadError):
    """The server sent nothing for longer than the timeout."""


def part_path(dest: str | os.PathLike) -> Path:
    """The resumable partial file of ``dest``."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def download(
    url: str | Sequence[str],
    dest: str | os.PathLike,
    sha256: str | None = None,
    size: int | None = None,
    resume: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
    chunk_size: int = CHUNK,
) -> Path:
    """Download ``url`` (or the first of several URLs that works) to ``dest`` and return ``dest``.

    ``sha256`` is the full hex digest or a prefix of it (torchvision names carry 8 hex digits).
    ``timeout`` bounds the connection and every wait for data (a stall raises DownloadTimeout). With ``sha256`` /
    ``size`` the result is verified before it is renamed into place; a mismatch removes the bad data and raises
    ChecksumError naming both values. An existing ``dest`` that verifies is kept without any request.
    """
    dest = Path(dest)
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise DownloadError(f"no URL to download {dest.name} from")
    sha256 = sha256.lower() if sha256 else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dir_lock(dest.parent):  # another process downloading into the same folder finishes first
        if dest.exists():
            _check_existing(dest, sha256, size)
            return dest
        return _download_locked(urls, dest, sha256, size, resume, timeout, progress, chunk_size)


@contextlib.contextmanager
def dir_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Exclusive advisory lock on a folder (flock; no lock file left behind); a no-op where flock is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _download_locked(
    urls: list[str],
    dest: Path,
    sha256: str | None,
    size: int | None,
    resume: bool,
    timeout: float,
    progress: bool | None,
    chunk_size: int,
) -> Path:
    part = part_path(dest)
    if not resume:
        part.unlink(missing_ok=True)
    failures: list[SvcnetError] = []
    for candidate in urls:
        try:
            _fetch(candidate, part, sha256, size, timeout, progress, chunk_size, resume)
        except DiskFullError:
            if not resume:
                part.unlink(missing_ok=True)
            raise  # another URL would find the same disk
        except SvcnetError as exc:
            log.warning("%s", exc)
            failures.append(exc)
            if not resume:
                part.unlink(missing_ok=True)
            continue
        os.replace(part, dest)
        return dest
    if len(failures) == 1:
        raise failures[0]
    kind = ChecksumError if all(isinstance(f, ChecksumError) for f in failures) else DownloadError
    raise kind(f"all {len(urls)} URLs failed for {dest.name}: " + "; ".join(str(f) for f in failures))


def _check_existing(dest: Path, sha256: str | None, size: int | None) -> None:
    if size is not None and dest.stat().st_size != size:
        raise ChecksumError(
            f"{dest} exists with {dest.stat().st_size} bytes, expected {size}; remove it to download again"
        )
    if sha256:
        actual = _hash_file(dest)
        if not actual.startswith(sha256):
            raise ChecksumError(f"{dest} exists with sha256 {actual}, expected {sha256}; remove it to download again")


def _hash_file(path: Path, digest: hashlib._Hash | None = None) -> str:
    digest = digest or hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _fetch(
    url: str,
    part: Path,
    sha256: str | None,
    size: int | None,
    timeout: float,
    progress: bool | None,
    chunk_size: int,
    resume: bool,
) -> None:
    """Stream ``url`` into ``part`` (resuming what is there) and verify it; raises on any failure."""
    offset = _resume_offset(url, part, sha256, size, resume)
    if offset is None:
        return  # complete and verified from an earlier run
    response = _get(url, offset, timeout)
    with response:
        if response.status_code == 416 and offset:
            part.unlink()  # the partial does not fit what the server has: start over
            return _fetch(url, part, sha256, size, timeout, progress, chunk_size, resume)
        if response.status_code not in (200, 206):
            raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason or ''}".rstrip())
        digest = hashlib.sha256()
        offset, total = _body_range(response, url, part, offset, digest)
        if size is not None and total is not None and total != size:
            raise ChecksumError(f"{url}: server offers {total} bytes, expected {size}")
        _check_room(part, (total if total is not None else size or 0) - offset)
        received = _stream(response, url, part, offset, total, digest, timeout, progress, chunk_size)
    if total is not None and received < total:
        _drop_if_empty(part)
        raise DownloadError(f"{url}: connection closed after {received} of {total} bytes{_resume_note(part)}")
    _verify_part(url, part, sha256, size, digest.hexdigest())


def _resume_offset(url: str, part: Path, sha256: str | None, size: int | None, resume: bool) -> int | None:
    """The byte to ask from: what ``part`` holds when resuming (0 when it cannot be right); None when ``part`` is
    already the whole file and verifies."""
    offset = part.stat().st_size if resume and part.is_file() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size and offset > 0:
        try:
            _verify_part(url, part, sha256, size)
            return None
        except ChecksumError:
            offset = 0  # removed: download it again
    return offset


def _get(url: str, offset: int, timeout: float) -> requests.Response:
    """The streamed response for ``url`` from byte ``offset``."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    headers["Accept-Encoding"] = "identity"  # byte offsets and the hash refer to the file itself
    try:
        return requests.get(url, headers=headers, stream=True, timeout=(timeout, timeout))
    except requests.exceptions.Timeout as exc:
        raise DownloadTimeout(f"{url}: no response within {timeout:g} s") from exc
    except requests.exceptions.RequestException as exc:
        raise DownloadError(f"{url}: cannot connect ({_short(exc)})") from exc


def _body_range(response: requests.Response, url: str, part: Path, offset: int, digest) -> tuple[int, int | None]:
    """Where the body starts and the whole file's size (None: not announced). A 206 continues ``part``, whose bytes
    go into ``digest``; a 200 starts from byte 0."""
    if response.status_code == 206:
        start, total = _content_range(response, url)
        if start != offset:
            raise DownloadError(f"{url}: server resumed at byte {start}, asked for {offset}")
        _hash_file(part, digest)
        return offset, total
    length = response.headers.get("Content-Length")  # the server ignored Range, or nothing to resume
    return 0, int(length) if length and length.isdigit() else None


def _stream(
    response: requests.Response,
    url: str,
    part: Path,
    offset: int,
    total: int | None,
    digest,
    timeout: float,
    progress: bool | None,
    chunk_size: int,
) -> int:
    """Write the body into ``part`` from byte ``offset`` (fsynced), hashing it; returns the bytes ``part`` holds.
    A lost connection, a stall or a full disk raise with what was kept to resume."""
    received = offset
    bar = tqdm(
        total=total,
        initial=offset,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=part.name[: -len(".part")],
        disable=None if progress is None else not progress,
        leave=False,
    )
    try:
        with open(part, "ab" if offset else "wb") as fh, bar:
            try:
                for block in _blocks(response, chunk_size):
                    fh.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            finally:
                fh.flush()
                os.fsync(fh.fileno())
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        _drop_if_empty(part)
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            raise disk_full(part, total - received if total is not None else None) from exc
        if _is_timeout(exc):
            raise DownloadTimeout(
                f"{url}: stalled, no data for {timeout:g} s after {received} bytes{_resume_note(part)}"
            ) from exc
        raise DownloadError(
            f"{url}: connection lost after {received} of {total if total is not None else '?'} bytes"
            f"{_resume_note(part)}"
        ) from exc
    return received


def _blocks(response: requests.Response, chunk_size: int) -> Iterator[bytes]:
    """The body as it arrives (``read1``: a connection that dies mid-chunk still yields the bytes received)."""
    raw = response.raw
    read = raw.read1 if hasattr(raw, "read1") else raw.read
    while block := read(chunk_size, decode_content=False):
        yield block


def _verify_part(url: str, part: Path, sha256: str | None, size: int | None, actual: str | None = None) -> None:
    """Size and sha256 of a complete ``part``; a mismatch removes it (a re-run must not resume bad data)."""
    got = part.stat().st_size
    if size is not None and got != size:
        part.unlink()
        raise ChecksumError(f"{url}: got {got} bytes, expected {size}; the download was removed")
    if sha256:
        actual = actual or _hash_file(part)
        if not actual.startswith(sha256):
            part.unlink()
            raise ChecksumError(f"{url}: sha256 mismatch: got {actual}, expected {sha256}; the download was removed")


def _content_range(response: requests.Response, url: str) -> tuple[int, int | None]:
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if not match:
        raise DownloadError(f"{url}: partial response without a valid Content-Range header")
    total = match.group(3)
    return int(match.group(1)), (int(total) if total != "*" else None)


def _is_timeout(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (requests.exceptions.Timeout, TimeoutError)) or "timed out" in str(exc).lower():
            return True
        wrapped = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = exc.__context__ or exc.__cause__ or wrapped
    return False


def _check_room(part: Path, needed: int) -> None:
    """Refuse before writing when the ``needed`` bytes still to come do not fit on the disk of ``part``."""
    if needed > 0 and free_bytes(part) < needed:
        raise disk_full(part, needed)


def _drop_if_empty(part: Path) -> None:
    if part.is_file() and part.stat().st_size == 0:
        part.unlink()


def _resume_note(part: Path) -> str:
    return f"; {part.stat().st_size} bytes kept in {part} to resume" if part.is_file() else ""


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
