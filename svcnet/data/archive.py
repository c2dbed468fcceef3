"""Safe archive extraction (zip, tar, tar.gz/.bz2/.xz): members may only be plain files and folders inside the
destination, each and all together below size limits; everything is written into a temporary sibling folder that is
renamed onto the destination only when the whole archive passed, so a refused archive leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from svcnet.errors import SvcnetError

DEFAULT_MAX_MEMBER_BYTES = 64 << 30  # 64 GiB: larger than any single file of the SVCNet datasets (lmdb included)
DEFAULT_MAX_TOTAL_BYTES = 1 << 40  # 1 TiB
CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


class ArchiveError(SvcnetError):
    """An archive is corrupt, unsupported, or holds a member that may not be extracted."""


@dataclasses.dataclass(frozen=True)
class _Member:
    name: str
    is_dir: bool
    size: int
    open: Callable[[], IO[bytes]] | None


def member_parts(name: str) -> tuple[str, ...]:
    """The path components of an archive member name; raises ArchiveError for names that could leave the folder."""
    if "\x00" in name:
        raise ArchiveError(f"member {name!r} has a NUL byte in its name")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        raise ArchiveError(f"member {name!r} has an absolute path")
    parts = tuple(p for p in unified.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ArchiveError(f"member {name!r} has a '..' component (path traversal)")
    return parts


def safe_extract(
    archive: str | os.PathLike,
    dest_dir: str | os.PathLike,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
) -> Path:
    """Extract ``archive`` into ``dest_dir`` (which must not exist or be empty) and return ``dest_dir``.

    Refuses absolute paths, ``..`` components, links and special files, and members larger than
    ``max_member_bytes`` or archives larger than ``max_total_bytes`` in total (declared sizes and the bytes actually
    decompressed are both checked). On refusal nothing is left at ``dest_dir``.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    if not archive.is_file():
        raise ArchiveError(f"archive not found: {archive}")
    if dest_dir.exists() and (not dest_dir.is_dir() or any(dest_dir.iterdir())):
        raise ArchiveError(f"{dest_dir} already exists and is not an empty folder; remove it to unpack {archive.name}")
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.", suffix=".tmp", dir=dest_dir.parent))
    try:
        with _members(archive, max_member_bytes, max_total_bytes) as members:
            _write_all(members, tmp, archive, max_member_bytes, max_total_bytes)
        if dest_dir.is_dir():
            dest_dir.rmdir()
        os.replace(tmp, dest_dir)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise ArchiveError(f"cannot unpack {archive}: {' '.join(str(exc).split())}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest_dir


class _members:
    """Context manager yielding the members of a zip (all checked up front) or a tar (streamed, checked one by one)."""

    def __init__(self, archive: Path, max_member: int, max_total: int):
        self.archive, self.max_member, self.max_total = archive, max_member, max_total
        self._handle: zipfile.ZipFile | tarfile.TarFile | None = None

    def __enter__(self) -> Iterator[_Member]:
        if zipfile.is_zipfile(self.archive):
            zf = self._handle = zipfile.ZipFile(self.archive)
            infos = zf.infolist()
            for info in infos:  # the central directory lists everything: refuse before writing a byte
                _zip_member(zf, info, self.max_member)
            declared = sum(i.file_size for i in infos)
            if declared > self.max_total:
                raise ArchiveError(
                    f"{self.archive.name} declares {declared} bytes in total, over the limit of {self.max_total}"
                )
            return (_zip_member(zf, i, self.max_member) for i in infos)
        if _is_tar(self.archive):
            tf = self._handle = tarfile.open(self.archive, mode="r|*")  # one sequential pass, any compression
            return (_tar_member(tf, m, self.max_member) for m in tf)
        raise ArchiveError(f"{self.archive} is neither a zip nor a tar archive")

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.close()


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError):
        return False


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_member: int) -> _Member:
    member_parts(info.filename)
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise ArchiveError(f"member {info.filename!r} is a symbolic link")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError(f"member {info.filename!r} is a special file (mode {oct(mode)})")
    if info.flag_bits & 0x1:
        raise ArchiveError(f"member {info.filename!r} is encrypted")
    if info.is_dir():
        return _Member(info.filename, True, 0, None)
    _check_declared(info.filename, info.file_size, max_member)
    return _Member(info.filename, False, info.file_size, lambda: zf.open(info))


def _tar_member(tf: tarfile.TarFile, info: tarfile.TarInfo, max_member: int) -> _Member:
    member_parts(info.name)
    if info.issym() or info.islnk():
        raise ArchiveError(f"member {info.name!r} is a {'symbolic' if info.issym() else 'hard'} link")
    if info.isdir():
        return _Member(info.name, True, 0, None)
    if not info.isreg():
        raise ArchiveError(f"member {info.name!r} is a device, fifo or other special file")
    _check_declared(info.name, info.size, max_member)
    return _Member(info.name, False, info.size, lambda: tf.extractfile(info))


def _check_declared(name: str, size: int, max_member: int) -> None:
    if size > max_member:
        raise ArchiveError(f"member {name!r} declares {size} bytes, over the limit of {max_member}")


def _write_all(members: Iterator[_Member], root: Path, archive: Path, max_member: int, max_total: int) -> None:
    total = 0
    for member in members:
        parts = member_parts(member.name)
        if not parts:
            continue  # the archive's own root folder ("./")
        target = root.joinpath(*parts)
        try:
            if member.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with member.open() as src, open(target, "xb") as dst:
                while block := src.read(CHUNK):
                    written += len(block)
                    total += len(block)
                    if written > max_member:
                        raise ArchiveError(
                            f"member {member.name!r} decompresses to more than the limit of {max_member} bytes"
                        )
                    if total > max_total:
                        raise ArchiveError(
                            f"{archive.name} decompresses to more than the total limit of {max_total} bytes"
                        )
                    dst.write(block)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            if isinstance(exc, FileExistsError) and target.is_file():
                raise ArchiveError(f"member {member.name!r} appears twice in {archive.name}") from exc
            raise ArchiveError(f"member {member.name!r} clashes with a file of that name in {archive.name}") from exc
        if written != member.size:
            raise ArchiveError(f"member {member.name!r} declares {member.size} bytes but holds {written}")
