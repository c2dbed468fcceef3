"""svcnet.data.archive.safe_extract: good archives unpack atomically; malicious ones are refused leaving nothing."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile

import pytest

from svcnet.data.archive import ArchiveError, safe_extract

FILES = {"DAVIS/JPEGImages/480p/dog/00000.jpg": b"jpeg bytes", "DAVIS/ImageSets/2017/val.txt": b"dog\n"}


def make_zip(path, members: dict[str, bytes], symlinks: dict[str, str] | None = None, compress=True):
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def make_tar(path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.fixture
def out(tmp_path):
    """The folder extraction happens in (dest is out/x); after a refusal it must be empty (no temp dirs)."""
    d = tmp_path / "out"
    d.mkdir()
    return d


def tree(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_zip_unpacks_into_place(tmp_path, out):
    archive = make_zip(tmp_path / "a.zip", FILES)
    assert safe_extract(archive, out / "x") == out / "x"
    assert tree(out / "x") == FILES
    assert [p.name for p in out.iterdir()] == ["x"]  # no temporaries left


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_variants_unpack(tmp_path, out, mode):
    members = [(f"./{k}", v) for k, v in FILES.items()] + [special("./DAVIS/empty", tarfile.DIRTYPE)]
    archive = make_tar(tmp_path / "a.tar", members, mode)
    safe_extract(archive, out / "x")
    assert tree(out / "x") == FILES and (out / "x" / "DAVIS" / "empty").is_dir()


def test_existing_empty_folder_is_replaced(tmp_path, out):
    (out / "x").mkdir()  # what svcnet.data.prepare hands over (an atomic_path temp folder)
    safe_extract(make_zip(tmp_path / "a.zip", FILES), out / "x")
    assert tree(out / "x") == FILES


def test_non_empty_destination_is_refused_untouched(tmp_path, out):
    (out / "x").mkdir()
    (out / "x" / "keep.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="already exists and is not an empty folder"):
        safe_extract(make_zip(tmp_path / "a.zip", FILES), out / "x")
    assert tree(out) == {"x/keep.txt": b"mine"}


def test_not_an_archive(tmp_path, out):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not an archive" * 10)
    with pytest.raises(ArchiveError, match="neither a zip nor a tar"):
        safe_extract(junk, out / "x")
    assert list(out.iterdir()) == []


ZIP_CASES = {
    "absolute": ({"ok.txt": b"1", "/etc/evil.txt": b"x"}, None, "absolute path"),
    "dotdot": ({"ok.txt": b"1", "DAVIS/../../evil.txt": b"x"}, None, "path traversal"),
    "backslash": ({"ok.txt": b"1", "..\\evil.txt": b"x"}, None, "path traversal"),
    "drive": ({"ok.txt": b"1", "C:/evil.txt": b"x"}, None, "absolute path"),
    "symlink": ({"ok.txt": b"1"}, {"link": "/etc/passwd"}, "symbolic link"),
    "duplicate": ({"ok.txt": b"1", "./ok.txt": b"2"}, None, "appears twice"),
}


@pytest.mark.parametrize("case", sorted(ZIP_CASES))
def test_malicious_zip_is_refused(tmp_path, out, case):
    members, links, message = ZIP_CASES[case]
    archive = make_zip(tmp_path / "evil.zip", members, links)
    with pytest.raises(ArchiveError, match=message):
        safe_extract(archive, out / "x")
    assert list(out.iterdir()) == []


TAR_CASES = {
    "absolute": ([("ok.txt", b"1"), ("/tmp/evil.txt", b"x")], "absolute path"),
    "dotdot": ([("ok.txt", b"1"), ("a/../../evil.txt", b"x")], "path traversal"),
    "symlink": ([("ok.txt", b"1"), special("link", tarfile.SYMTYPE, "/etc/passwd")], "symbolic link"),
    "hardlink": ([("ok.txt", b"1"), special("hard", tarfile.LNKTYPE, "ok.txt")], "hard link"),
    "device": ([("ok.txt", b"1"), special("dev", tarfile.CHRTYPE)], "device"),
    "fifo": ([("ok.txt", b"1"), special("fifo", tarfile.FIFOTYPE)], "fifo"),
    "file_under_file": ([("ok.txt", b"1"), ("ok.txt/inner", b"x")], "clashes with a file"),
}


@pytest.mark.parametrize("case", sorted(TAR_CASES))
def test_malicious_tar_is_refused_after_good_members(tmp_path, out, case):
    """Tar members are streamed: the good ones are already written when the bad one comes; all must vanish."""
    members, message = TAR_CASES[case]
    archive = make_tar(tmp_path / "evil.tar.gz", members)
    with pytest.raises(ArchiveError, match=message):
        safe_extract(archive, out / "x")
    assert list(out.iterdir()) == []


def test_oversized_member_is_refused_by_declared_size(tmp_path, out):
    archive = make_zip(tmp_path / "big.zip", {"ok.txt": b"1", "big.bin": bytes(200_000)})
    with pytest.raises(ArchiveError, match="'big.bin' declares 200000 bytes, over the limit of 100000"):
        safe_extract(archive, out / "x", max_member_bytes=100_000)
    assert list(out.iterdir()) == []
    tar = make_tar(tmp_path / "big.tar.xz", [("ok.txt", b"1"), ("big.bin", bytes(200_000))], "w:xz")
    with pytest.raises(ArchiveError, match="over the limit of 100000"):
        safe_extract(tar, out / "x", max_member_bytes=100_000)
    assert list(out.iterdir()) == []


def test_zip_bomb_like_member_is_refused(tmp_path, out):
    """20 MB of zeros compress to ~20 KB: the decompressed size, not the archive size, is what counts."""
    archive = make_zip(tmp_path / "bomb.zip", {"bomb.bin": bytes(20_000_000)})
    assert archive.stat().st_size < 100_000
    with pytest.raises(ArchiveError, match="over the limit of 1000000"):
        safe_extract(archive, out / "x", max_member_bytes=1_000_000)
    assert list(out.iterdir()) == []


def test_total_limit_is_checked_on_declared_sizes_for_zip(tmp_path, out):
    archive = make_zip(tmp_path / "many.zip", {f"f{i}.bin": bytes(600_000) for i in range(3)})
    with pytest.raises(ArchiveError, match="declares 1800000 bytes in total, over the limit of 1000000"):
        safe_extract(archive, out / "x", max_member_bytes=1_000_000, max_total_bytes=1_000_000)
    assert list(out.iterdir()) == []


def test_total_limit_is_checked_on_streamed_bytes_for_tar(tmp_path, out):
    archive = make_tar(tmp_path / "many.tar.bz2", [(f"f{i}.bin", bytes(600_000)) for i in range(3)], "w:bz2")
    with pytest.raises(ArchiveError, match="decompresses to more than the total limit of 1000000 bytes"):
        safe_extract(archive, out / "x", max_member_bytes=1_000_000, max_total_bytes=1_000_000)
    assert list(out.iterdir()) == []


def test_zip_lying_about_its_size_is_refused(tmp_path, out):
    """A member whose headers declare 1,000 bytes but whose data holds 100,000 never passes as good."""
    archive = make_zip(tmp_path / "liar.zip", {"ok.txt": b"1", "liar.bin": bytes(100_000)})
    data = bytearray(archive.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory entry
        pos = data.rfind(sig)
        data[pos + offset : pos + offset + 4] = (1000).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    assert zipfile.ZipFile(archive).getinfo("liar.bin").file_size == 1000
    with pytest.raises(ArchiveError, match="liar.zip"):
        safe_extract(archive, out / "x", max_member_bytes=50_000)
    assert list(out.iterdir()) == []


def test_truncated_archive_is_refused(tmp_path, out):
    archive = make_tar(tmp_path / "cut.tar.gz", [("a.bin", bytes(range(256)) * 4000)])
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(ArchiveError, match="cannot unpack"):
        safe_extract(archive, out / "x")
    assert list(out.iterdir()) == []
