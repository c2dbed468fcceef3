"""svcnet.data.atomic: hard links with a copy as fallback, and the error of a full disk."""

from __future__ import annotations

import pytest

from svcnet.data.atomic import disk_full, free_bytes, link_or_copy, write_bytes_atomic
from svcnet.errors import DiskFullError


def test_link_or_copy_links_on_one_filesystem_and_replaces_the_destination(tmp_path):
    src, dest = tmp_path / "a.pth", tmp_path / "out" / "b.pth"
    src.write_bytes(b"weights")
    dest.parent.mkdir()
    dest.write_bytes(b"older")
    link_or_copy(src, dest)
    assert dest.samefile(src) and dest.read_bytes() == b"weights"
    assert [p.name for p in dest.parent.iterdir()] == ["b.pth"]


def test_link_or_copy_copies_across_filesystems(tmp_path, small_disk):
    src, dest = tmp_path / "a.pth", small_disk / "a.pth"
    src.write_bytes(b"weights")
    link_or_copy(src, dest)
    assert not dest.samefile(src) and dest.read_bytes() == b"weights"


def test_a_full_disk_names_the_file_and_the_free_space(small_disk):
    dest = small_disk / "sub" / "frame.png"
    assert free_bytes(dest) == free_bytes(small_disk) > 0  # a path not made yet: its nearest folder's filesystem
    write_bytes_atomic(small_disk / "kept.png", b"earlier")
    with pytest.raises(DiskFullError) as err:
        write_bytes_atomic(small_disk / "kept.png", b"\0" * 2**21)
    assert str(err.value) == str(disk_full(small_disk / "kept.png", 2**21))
    assert str(err.value).startswith(
        f"no space left on the disk holding {small_disk / 'kept.png'} (1 MiB free, about 2 MiB"
    )
    assert [p.name for p in small_disk.iterdir()] == ["kept.png"] and (
        small_disk / "kept.png"
    ).read_bytes() == b"earlier"
