"""The source registry (datasets/sources.yaml), resolve_weight, fetch_source and `svcnet fetch`."""

from __future__ import annotations

import copy
import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
import yaml
from http_server import LocalHTTPServer, Route

from svcnet.cli import main
from svcnet.errors import CheckpointError, ChecksumError, SvcnetError
from svcnet.sources import (
    REPO_SOURCES,
    SOURCES_ENV,
    fetch_source,
    get_source,
    load_registry,
    parse_registry,
    registry_path,
    resolve_weight,
    sha256_file,
)

# docs/official.md §6: the official file names (default paths of the official code)
OFFICIAL = {
    "cpnet": "cpnet_epoch1000_batchsize32.pth",
    "ssnet": "ssnet_epoch2000_bs8.pth",
    "pwcnet": "pwcNet-default.pytorch",
    "vgg16": "vgg16_pretrained.pth",
    "warn": "Warp_Artifact_Removal_Net_256p_in_epoch2000_bs16.pth",
    "srnet": "Color_Embedding_SR_Net_normnone_epoch40_bs4.pth",
    "corrnet_vgg19": "vgg19_conv.pth",
    "corrnet_nonlocal": "nonlocal_net_iter_76000.pth",
}
REQUIRED = set(OFFICIAL) | {"devc_checkpoints", "pfan", "lpips_alexnet", "davis2017_trainval_480p"}


def raw_registry() -> dict:
    return yaml.safe_load(REPO_SOURCES.read_text())


# ------------------------------------------------------------------------------------------------------- registry
def test_registry_loads_and_has_every_required_source():
    sources = load_registry()
    assert set(sources) >= REQUIRED
    assert {s.kind for s in sources.values()} == {"weights", "dataset"}
    assert sum(name.startswith("svcnet_") and s.kind == "dataset" for name, s in sources.items()) >= 8


def test_official_checkpoint_file_names_match_the_spec():
    sources = load_registry()
    for name, file in OFFICIAL.items():
        assert sources[name].file == file
        assert sources[name].dest == f"weights/{file}"
        assert Path(sources[name].official_path).name == file


def test_official_paths_appear_in_the_docs():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "official.md").read_text(encoding="utf-8")
    section = docs[docs.index("## 6. Released checkpoints") : docs.index("## 7.")]
    for name in OFFICIAL:
        assert f"`{get_source(name).official_path}`" in section, name


def test_every_svcnet_share_link_of_the_notes_is_in_the_registry(shared_dir):
    notes = (shared_dir / "notes" / "sources.md").read_text()
    table = notes[notes.index("## 1. SVCNet releases") : notes.index("## 2.")]
    ids = re.findall(r"`[uf]` `([^`]+)`", table)
    assert len(ids) >= 15
    urls = " ".join(u for s in load_registry().values() for u in s.urls)
    needed_by_pipeline = [i for i in ids if not i.startswith(("EleptIBNdqRNt7", "El0hCFaqaaRHo"))]  # folders
    missing = [i for i in needed_by_pipeline if i not in urls and not i.startswith("Eefwdef8")]  # PWC: upstream URL
    assert missing == []


def test_names_are_unique_duplicate_keys_are_refused(tmp_path, monkeypatch):
    text = REPO_SOURCES.read_text()
    first = text.index("\n  cpnet:\n")
    block = text[first : text.index("\n  ssnet:\n")]
    dup = tmp_path / "dup.yaml"
    dup.write_text(text + block)
    monkeypatch.setenv(SOURCES_ENV, str(dup))
    with pytest.raises(SvcnetError, match="duplicate key 'cpnet'"):
        load_registry()


def test_manual_sources_say_what_to_do_and_where():
    for s in load_registry().values():
        if s.access == "direct":
            assert s.urls or s.from_archive, s.name
            continue
        step = s.manual_step("/ROOT")
        assert f"/ROOT/{s.dest}" in step and "https://" in step, s.name
        assert "{" not in step, s.name
        if s.unpack:
            assert f"/ROOT/{s.unpack.into}" in step, s.name


def test_torchvision_hashes_match_their_file_names():
    for name in ("vgg16", "lpips_alexnet"):
        s = get_source(name)
        prefix = re.search(r"-([0-9a-f]{8})\.pth$", s.url).group(1)
        assert s.sha256_prefix == prefix and s.sha256.startswith(prefix) and s.size > 100_000_000


def test_licence_and_access_present_for_all():
    for s in load_registry().values():
        assert s.licence and s.access in ("direct", "share_page", "login", "code") and s.title


def test_names_accept_dashes_and_capitals():
    assert get_source("davis2017-trainval-480p").name == "davis2017_trainval_480p"  # as svcnet.data.prepare asks
    assert get_source("CPNet").name == "cpnet"
    with pytest.raises(SvcnetError, match="unknown source 'nope'; known sources: .*cpnet"):
        get_source("nope")


ENTRY = {
    "kind": "weights",
    "title": "t",
    "file": "a.pth",
    "urls": ["http://127.0.0.1/a.pth"],
    "sha256": None,
    "size": None,
    "licence": "MIT",
    "access": "direct",
    "dest": "weights/a.pth",
    "used_for": "tests",
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"access": "share_page"}, "'manual' is a required property"),
        ({"access": "login", "manual": "no placeholder here, but long enough to pass length"}, "does not match"),
        ({"sha256": "abc"}, "does not match"),
        ({"dest": "weights/../../etc/a.pth"}, "does not match"),
        ({"dest": "elsewhere/a.pth"}, "does not match"),
        ({"dest": "weights/b.pth"}, "does not end in the file name a.pth"),
        ({"access": "ftp"}, "is not one of"),
        ({"urls": []}, "urls: \\[\\] should be non-empty"),
        ({"extra": 1}, "Additional properties are not allowed"),
        ({"from_archive": {"source": "a", "member": "x.pth"}}, "not an archive source"),
        ({"sha256": "1" * 64, "sha256_prefix": "22222222"}, "does not start with sha256_prefix"),
    ],
)
def test_schema_and_consistency_checks(change, message):
    entry = {**copy.deepcopy(ENTRY), **change}
    with pytest.raises(SvcnetError, match=message):
        parse_registry({"version": 1, "sources": {"a": entry}})


def test_bad_names_and_clashing_dests_are_refused():
    with pytest.raises(SvcnetError, match="does not match"):
        parse_registry({"version": 1, "sources": {"Bad-Name": ENTRY}})
    with pytest.raises(SvcnetError, match="is also the dest of a"):
        parse_registry({"version": 1, "sources": {"a": ENTRY, "b": ENTRY}})


def test_registry_path_env_and_packaged_copy(monkeypatch, tmp_path):
    monkeypatch.delenv(SOURCES_ENV, raising=False)
    assert registry_path() == REPO_SOURCES
    packaged = Path(__file__).resolve().parents[1] / "svcnet" / "resources" / "sources.yaml"
    assert packaged.resolve() == REPO_SOURCES.resolve()  # one copy: the packaged file links to datasets/
    monkeypatch.setenv(SOURCES_ENV, str(tmp_path / "none.yaml"))
    with pytest.raises(SvcnetError, match="does not name a file"):
        registry_path()


# -------------------------------------------------------------------------------------------------- resolve_weight
def test_sha256_file(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"svcnet" * 1000)
    assert sha256_file(f) == hashlib.sha256(b"svcnet" * 1000).hexdigest()


@pytest.fixture
def test_registry(tmp_path, monkeypatch):
    """A registry of sources served by a local HTTP server; returns (server, write(sources) -> None)."""
    with LocalHTTPServer(lifetime=20) as srv:

        def write(sources: dict) -> None:
            path = tmp_path / "sources.yaml"
            path.write_text(yaml.safe_dump({"version": 1, "sources": sources}))
            monkeypatch.setenv(SOURCES_ENV, str(path))

        yield srv, write


def weight(file: str, urls: list[str], sha: str | None, **more) -> dict:
    return {**ENTRY, "file": file, "dest": f"weights/{file}", "urls": urls, "sha256": sha, **more}


def test_resolve_weight_right_wrong_missing(tmp_path, test_registry):
    _, write = test_registry
    good = b"weights" * 100
    write({"w": weight("w.pth", ["http://127.0.0.1:9/w.pth"], hashlib.sha256(good).hexdigest())})
    wdir = tmp_path / "weights"
    wdir.mkdir()
    with pytest.raises(CheckpointError) as err:
        resolve_weight("w", weights_dir=wdir)
    msg = str(err.value)
    assert "w.pth" in msg and hashlib.sha256(good).hexdigest() in msg and "http://127.0.0.1:9/w.pth" in msg
    assert str(wdir / "w.pth") in msg and "svcnet fetch w" in msg and "\n" not in msg

    (wdir / "w.pth").write_bytes(good)
    assert resolve_weight("w", weights_dir=wdir) == wdir / "w.pth"

    other = tmp_path / "other.pth"
    other.write_bytes(b"something else")
    with pytest.raises(ChecksumError) as err:
        resolve_weight("w", path=other)
    assert hashlib.sha256(good).hexdigest() in str(err.value)
    assert hashlib.sha256(b"something else").hexdigest() in str(err.value)
    assert resolve_weight("w", path=other, verify=False) == other


def test_resolve_weight_default_dir_is_env_or_weights(tmp_path, test_registry, monkeypatch):
    _, write = test_registry
    write({"w": weight("w.pth", ["http://127.0.0.1:9/w.pth"], None)})
    (tmp_path / "wd").mkdir()
    (tmp_path / "wd" / "w.pth").write_bytes(b"x")
    monkeypatch.setenv("SVCNET_WEIGHTS", str(tmp_path / "wd"))
    assert resolve_weight("w") == tmp_path / "wd" / "w.pth"
    monkeypatch.delenv("SVCNET_WEIGHTS")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match=re.escape(str(tmp_path / "weights" / "w.pth"))):
        resolve_weight("w")


def test_resolve_weight_real_registry_messages(tmp_path):
    with pytest.raises(CheckpointError) as err:
        resolve_weight("cpnet", weights_dir=tmp_path)
    msg = str(err.value)
    assert "cpnet_epoch1000_batchsize32.pth" in msg and "no published sha256" in msg
    assert "EXUIeeSbnqVJq7s4PU2emwABWfxLP1UKDHajSv9lGVH_3Q" in msg and str(tmp_path / OFFICIAL["cpnet"]) in msg

    fake = tmp_path / "vgg16_pretrained.pth"
    fake.write_bytes(b"not vgg")
    with pytest.raises(ChecksumError) as err:
        resolve_weight("vgg16", weights_dir=tmp_path)
    assert "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0" in str(err.value)
    assert hashlib.sha256(b"not vgg").hexdigest() in str(err.value) and "553433881" in str(err.value)

    with pytest.raises(SvcnetError, match="dataset source, not a weight file"):
        resolve_weight("davis2017_trainval_480p", weights_dir=tmp_path)


# ------------------------------------------------------------------------------------------------- fetch + CLI
def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def served(test_registry):
    """A registry exercising every fetch path against the local server."""
    srv, write = test_registry
    good = b"good weights" * 1000
    bundle = zip_bytes({"pack/models/inner.pth": b"inner weights", "pack/readme.txt": b"hi"})
    evil = zip_bytes({"ok.txt": b"1", "../../escaped.txt": b"x"})
    manual_text = "Open the share page https://example.invalid/page in a browser, save the file as {dest}."
    write(
        {
            "good": weight("good.pth", [srv.add("/good.pth", Route(good))], hashlib.sha256(good).hexdigest()),
            "bad": weight("bad.pth", [srv.add("/bad.pth", Route(b"tampered"))], hashlib.sha256(good).hexdigest()),
            "gone": weight("gone.pth", [srv.add("/gone.pth", Route(status=404))], None),
            "bundle": weight(
                "bundle.zip",
                [srv.add("/bundle.zip", Route(bundle))],
                hashlib.sha256(bundle).hexdigest(),
                unpack={"format": "zip", "into": "weights/bundle", "folder": "pack"},
            ),
            "inner": weight(
                "inner.pth",
                [],
                hashlib.sha256(b"inner weights").hexdigest(),
                from_archive={"source": "bundle", "member": "models/inner.pth"},
            ),
            "evil": {
                **weight("evil.zip", [srv.add("/evil.zip", Route(evil))], None),
                "kind": "dataset",
                "dest": "resources/downloads/evil.zip",
                "unpack": {"format": "zip", "into": "resources/evil", "folder": None},
            },
            "by_hand": weight(
                "by_hand.pth",
                ["https://example.invalid/page"],
                hashlib.sha256(good).hexdigest(),
                access="share_page",
                manual=manual_text,
            ),
            "by_hand_zip": {
                **weight(
                    "hand.zip",
                    ["https://example.invalid/page"],
                    None,
                    access="login",
                    manual=manual_text + " Then unpack into {into}.",
                ),
                "kind": "dataset",
                "dest": "resources/downloads/hand.zip",
                "unpack": {"format": "zip", "into": "resources/hand", "folder": "pack"},
            },
        }
    )
    return srv, good, bundle


def test_fetch_downloads_verifies_and_is_idempotent(served, tmp_path):
    srv, good, _ = served
    root = tmp_path / "root"
    r = fetch_source("good", root, timeout=2)
    assert r.status == "downloaded" and (root / "weights/good.pth").read_bytes() == good
    r = fetch_source("good", root, timeout=2)
    assert r.status == "present" and "verified" in r.detail
    assert [q.path for q in srv.requests] == ["/good.pth"]


def test_fetch_archive_and_member(served, tmp_path):
    srv, _, _bundle = served
    root = tmp_path / "root"
    r = fetch_source("inner", root, timeout=2)
    assert r.status == "downloaded" and (root / "weights/inner.pth").read_bytes() == b"inner weights"
    assert files_under(root) == [
        "weights/bundle.zip",
        "weights/bundle/pack/models/inner.pth",
        "weights/bundle/pack/readme.txt",
        "weights/inner.pth",
    ]
    assert fetch_source("bundle", root, timeout=2).status == "present"
    assert fetch_source("inner", root, timeout=2).status == "present"
    assert [q.path for q in srv.requests] == ["/bundle.zip"]


def test_fetch_refuses_a_malicious_archive_leaving_nothing_unpacked(served, tmp_path):
    root = tmp_path / "root"
    with pytest.raises(SvcnetError, match="path traversal"):
        fetch_source("evil", root, timeout=2)
    assert files_under(root) == ["resources/downloads/evil.zip"]  # the verified download, never unpacked
    assert not (tmp_path / "escaped.txt").exists() and not (root / "escaped.txt").exists()


def test_fetch_manual_source(served, tmp_path):
    _, good, bundle = served
    root = tmp_path / "root"
    r = fetch_source("by_hand", root)
    assert r.status == "manual" and str(root / "weights/by_hand.pth") in r.detail and "https://" in r.detail
    (root / "weights").mkdir(parents=True)
    (root / "weights/by_hand.pth").write_bytes(b"wrong")
    with pytest.raises(ChecksumError, match=hashlib.sha256(good).hexdigest()):
        fetch_source("by_hand", root)
    (root / "weights/by_hand.pth").write_bytes(good)
    assert fetch_source("by_hand", root).status == "present"
    # a manual archive put in place is unpacked safely
    (root / "resources/downloads").mkdir(parents=True)
    (root / "resources/downloads/hand.zip").write_bytes(bundle)
    r = fetch_source("by_hand_zip", root)
    assert r.status == "present" and (root / "resources/hand/pack/readme.txt").read_bytes() == b"hi"


def test_cli_fetch_list(served, capsys):
    assert main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^good\s+weights\s+direct\s+\?\s+MIT$", out, re.M)
    assert re.search(r"^by_hand_zip\s+dataset\s+login\s+", out, re.M)


def test_cli_fetch_real_registry_list(capsys):
    assert main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(re.search(rf"^{n}\s", out, re.M) for n in REQUIRED)
    assert re.search(r"^vgg16\s+weights\s+direct\s+527.8 MiB\s+BSD-3-Clause", out, re.M)


def test_cli_fetch_success_and_failures(served, tmp_path, capsys):
    root = tmp_path / "root"
    assert main(["fetch", "good", "inner", "--dest", str(root), "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    assert "good: downloaded to" in out and "inner: taken from" in out

    assert main(["fetch", "gone", "--dest", str(root), "--timeout", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HTTP 404" in err[0] and err[0].startswith("svcnet: error:")
    assert not (root / "weights/gone.pth").exists() and not (root / "weights/gone.pth.part").exists()

    assert main(["fetch", "bad", "--dest", str(root), "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert "sha256 mismatch" in err and not list((root / "weights").glob("bad.pth*"))

    assert main(["fetch", "by_hand", "--dest", str(root)]) == 2
    captured = capsys.readouterr()
    assert "manual step needed" in captured.out and str(root / "weights/by_hand.pth") in captured.out
    assert "need the manual step printed above" in captured.err

    assert main(["fetch", "nope"]) == 2
    assert "unknown source 'nope'" in capsys.readouterr().err
    assert main(["fetch"]) == 2
    assert "name at least one source" in capsys.readouterr().err
