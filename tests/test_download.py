"""svcnet.data.download against a real local HTTP server: verified, resumable, and clean on every failure."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time

import pytest
from http_server import LocalHTTPServer, Route

from svcnet.data.download import DownloadError, DownloadTimeout, download, part_path
from svcnet.errors import ChecksumError, DiskFullError

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def server():
    with LocalHTTPServer(lifetime=20) as srv:
        yield srv


def leftovers(folder) -> list[str]:
    """Every file under ``folder`` (temp files included)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_good_file_is_verified_and_renamed_into_place(server, tmp_path):
    url = server.add("/good.bin", Route(BODY))
    dest = tmp_path / "w" / "good.bin"
    assert download(url, dest, sha256=SHA, size=len(BODY), timeout=2, chunk_size=4096) == dest
    assert dest.read_bytes() == BODY
    assert leftovers(tmp_path) == ["w/good.bin"]
    # a second call finds the verified file and sends no request
    n = len(server.requests)
    download(url, dest, sha256=SHA, timeout=2)
    assert len(server.requests) == n


def test_wrong_hash_removes_everything_and_names_both_hashes(server, tmp_path):
    url = server.add("/wrong.bin", Route(b"not the file you want" * 100))
    dest = tmp_path / "wrong.bin"
    with pytest.raises(ChecksumError) as err:
        download(url, dest, sha256=SHA, timeout=2)
    got = hashlib.sha256(b"not the file you want" * 100).hexdigest()
    assert SHA in str(err.value) and got in str(err.value) and "removed" in str(err.value)
    assert leftovers(tmp_path) == []  # no .part either: bad data must not be resumed


def test_wrong_size_announced_by_server_is_refused_before_writing(server, tmp_path):
    url = server.add("/good.bin", Route(BODY))
    with pytest.raises(ChecksumError, match=f"server offers {len(BODY)} bytes, expected {len(BODY) + 1}"):
        download(url, tmp_path / "f.bin", size=len(BODY) + 1, timeout=2)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("status, text", [(404, "HTTP 404"), (500, "HTTP 500")])
def test_http_errors_are_clear_and_leave_nothing(server, tmp_path, status, text):
    url = server.add(f"/e{status}", Route(status=status))
    with pytest.raises(DownloadError, match=text) as err:
        download(url, tmp_path / "f.bin", sha256=SHA, timeout=2)
    assert url in str(err.value)
    assert leftovers(tmp_path) == []


def test_unknown_path_is_404(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url("/missing.bin"), tmp_path / "f.bin", timeout=2)
    assert leftovers(tmp_path) == []


def test_truncated_body_keeps_only_the_resumable_part(server, tmp_path):
    url = server.add("/trunc.bin", Route(BODY[:100_000], extra_length=50_000))
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError, match="after 100000 of 150000 bytes") as err:
        download(url, dest, sha256=SHA, timeout=2)
    assert "to resume" in str(err.value)
    assert leftovers(tmp_path) == ["f.bin.part"]
    assert part_path(dest).read_bytes() == BODY[:100_000]


def test_stall_times_out_quickly(server, tmp_path):
    url = server.add("/stall.bin", Route(BODY, stall_after=1000, stall_seconds=10))
    dest = tmp_path / "f.bin"
    t0 = time.monotonic()
    with pytest.raises(DownloadTimeout, match="stalled, no data for 0.5 s after 1000 bytes"):
        download(url, dest, sha256=SHA, timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert leftovers(tmp_path) == ["f.bin.part"]  # the bytes that did arrive can be resumed


def test_stall_before_any_byte_leaves_nothing(server, tmp_path):
    url = server.add("/stall0.bin", Route(BODY, stall_after=0, stall_seconds=10))
    with pytest.raises(DownloadTimeout, match="stalled"):
        download(url, tmp_path / "f.bin", timeout=0.5)
    assert leftovers(tmp_path) == []


def test_resume_asks_for_the_rest_only(server, tmp_path):
    url = server.add("/good.bin", Route(BODY))
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(BODY[:123_456])  # an earlier, interrupted run
    download(url, dest, sha256=SHA, size=len(BODY), timeout=2)
    assert dest.read_bytes() == BODY
    assert leftovers(tmp_path) == ["f.bin"]
    (req,) = server.requests
    assert req.headers["range"] == "bytes=123456-"
    assert server.sent["/good.bin"] == len(BODY) - 123_456  # only the rest crossed the wire


def test_truncated_then_resumed_from_a_good_mirror(server, tmp_path):
    """The first attempt dies half way; the re-run resumes from the .part and the hash covers both pieces."""
    trunc = server.add("/trunc.bin", Route(BODY[:200_000], extra_length=len(BODY) - 200_000))
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError):
        download(trunc, dest, sha256=SHA, timeout=2)
    good = server.add("/good.bin", Route(BODY))
    download(good, dest, sha256=SHA, timeout=2)
    assert dest.read_bytes() == BODY and leftovers(tmp_path) == ["f.bin"]
    assert server.requests[-1].headers["range"] == "bytes=200000-"


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    url = server.add("/norange.bin", Route(BODY, ranges=False))
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(b"garbage that must not be kept")
    download(url, dest, sha256=SHA, timeout=2)
    assert dest.read_bytes() == BODY and leftovers(tmp_path) == ["f.bin"]
    assert server.requests[0].headers["range"] == "bytes=29-"


def test_range_not_satisfiable_starts_over(server, tmp_path):
    url = server.add("/good.bin", Route(BODY))
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(BODY + b"extra")  # longer than the file: 416, then a clean download
    download(url, dest, sha256=SHA, timeout=2)
    assert dest.read_bytes() == BODY and leftovers(tmp_path) == ["f.bin"]
    assert [r.headers.get("range") for r in server.requests] == [f"bytes={len(BODY) + 5}-", None]


def test_urls_are_tried_in_order(server, tmp_path):
    dead = server.add("/e500", Route(status=500))
    good = server.add("/good.bin", Route(BODY))
    dest = tmp_path / "f.bin"
    download([server.url("/missing"), dead, good], dest, sha256=SHA, timeout=2)
    assert dest.read_bytes() == BODY
    assert [r.path for r in server.requests] == ["/missing", "/e500", "/good.bin"]


def test_all_urls_failing_names_each(server, tmp_path):
    dead = server.add("/e500", Route(status=500))
    with pytest.raises(DownloadError, match="all 2 URLs failed") as err:
        download([server.url("/missing"), dead], tmp_path / "f.bin", timeout=2)
    assert "HTTP 404" in str(err.value) and "HTTP 500" in str(err.value)
    assert leftovers(tmp_path) == []


def test_existing_file_with_wrong_hash_is_not_overwritten(server, tmp_path):
    url = server.add("/good.bin", Route(BODY))
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"user's own file")
    with pytest.raises(ChecksumError, match="remove it to download again"):
        download(url, dest, sha256=SHA, timeout=2)
    assert dest.read_bytes() == b"user's own file" and server.requests == []


def test_connection_refused_is_a_clear_error(tmp_path):
    with LocalHTTPServer() as srv:
        url = srv.url("/good.bin")
    with pytest.raises(DownloadError, match="cannot connect"):
        download(url, tmp_path / "f.bin", timeout=1)
    assert leftovers(tmp_path) == []


def test_concurrent_downloads_of_one_file_fetch_it_once(server, tmp_path):
    """Two workers (e.g. Snakemake jobs) asking for the same file: one downloads, the other waits and reuses it."""
    import threading

    url = server.add("/slow.bin", Route(BODY, stall_after=1000, stall_seconds=0.3))
    dest = tmp_path / "f.bin"
    errors = []

    def worker():
        try:
            download(url, dest, sha256=SHA, timeout=2)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and dest.read_bytes() == BODY
    assert [r.path for r in server.requests] == ["/slow.bin"]
    assert leftovers(tmp_path) == ["f.bin"]


def test_sha256_prefix_as_in_torchvision_names(server, tmp_path):
    url = server.add("/good.bin", Route(BODY))
    download(url, tmp_path / "a.bin", sha256=SHA[:8].upper(), timeout=2)
    assert (tmp_path / "a.bin").read_bytes() == BODY
    wrong = ("0" if SHA[0] != "0" else "1") + SHA[1:8]
    with pytest.raises(ChecksumError, match=f"got {SHA}, expected {wrong}"):
        download(url, tmp_path / "b.bin", sha256=wrong, timeout=2)
    assert leftovers(tmp_path) == ["a.bin"]


def test_a_file_larger_than_the_free_space_is_refused_before_writing(server, tmp_path, small_disk):
    """The server's Content-Length (or the registry's size) is checked against the free space: nothing is written,
    the other URLs are not tried (they would find the same disk), and the error names the disk and what it needs."""
    big = os.urandom(2 * 2**20)
    first = server.add("/big.bin", Route(big))
    second = server.add("/mirror.bin", Route(big))
    dest = small_disk / "big.bin"
    with pytest.raises(DiskFullError, match=r"no space left on the disk holding \S+big.bin.part \(1 MiB free, about 2"):
        download([first, second], dest, timeout=2)
    assert [r.path for r in server.requests] == ["/big.bin"]
    assert leftovers(small_disk) == []


def test_a_disk_that_fills_during_the_download_keeps_the_part_to_resume(server, tmp_path, small_disk):
    """Another writer fills the disk while the body arrives: a DiskFullError (not 'connection lost'), the bytes
    written so far kept in the .part, and once there is room again the download resumes from them."""
    body = os.urandom(600_000)
    url = server.add("/slow.bin", Route(body, stall_after=100_000, stall_seconds=1.5))
    dest = small_disk / "f.bin"
    filler = small_disk / "filler"
    failure: list[BaseException] = []

    def fetch():
        try:
            download(url, dest, sha256=hashlib.sha256(body).hexdigest(), timeout=5, chunk_size=4096)
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    deadline = time.monotonic() + 5
    while not (part_path(dest).is_file() and part_path(dest).stat().st_size >= 50_000):  # less the write buffer
        assert time.monotonic() < deadline, "the first bytes never reached the .part"
        time.sleep(0.02)
    with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as fh:  # fill it during the server's stall
        while True:
            fh.write(b"\0" * 4096)
    worker.join(timeout=10)
    (exc,) = failure
    assert isinstance(exc, DiskFullError), repr(exc)
    assert str(exc).startswith(f"no space left on the disk holding {part_path(dest)} (0 MiB free")
    kept = part_path(dest).read_bytes()
    assert len(kept) >= 50_000 and body.startswith(kept) and not dest.exists()
    filler.unlink()
    download(url, dest, sha256=hashlib.sha256(body).hexdigest(), timeout=5)
    assert dest.read_bytes() == body and leftovers(small_disk) == ["f.bin"]
    assert server.requests[-1].headers["range"] == f"bytes={len(kept)}-"
