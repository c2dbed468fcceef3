"""`svcnet preflight`: every file of a profile listed from the config, checked (presence, sha256), one line each."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from svcnet.cli import main
from svcnet.config import load_config
from svcnet.preflight import missing_requirements, required_inputs, requirements
from svcnet.sources import REPO_SOURCES, SOURCES_ENV, WEIGHTS_ENV, load_registry, registry_place

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"

# what the paper profile reads: (config key, registry entry)
PAPER = [
    ("data.train.root", "svcnet_davis_videvo_train_jpg"),
    ("data.train.seg", "svcnet_davis_videvo_train_seg_saliency"),
    ("data.eval.root", "svcnet_davis_videvo_val_jpg"),
    ("train.cpnet1.images", "svcnet_imagenet_train_jpg"),
    ("train.cpnet1.image_saliency", "svcnet_imagenet_train_saliency"),
    ("train.init.vgg16", "vgg16"),
    ("train.init.warn", "warn"),
    ("train.init.srnet", "srnet"),
    ("train.init.corrnet_vgg19", "corrnet_vgg19"),
    ("train.init.corrnet_nonlocal", "corrnet_nonlocal"),
    ("train.init.pwcnet", "pwcnet"),
    ("evaluate.methods: official_cpnet", "cpnet"),
    ("evaluate.methods: official_svcnet", "ssnet"),
]


@pytest.fixture
def paper():
    return load_config(CONFIG, "paper")


@pytest.fixture(autouse=True)
def no_weights_env(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)


def test_paper_profile_lists_every_release_file_missing(paper, tmp_path):
    missing = missing_requirements(paper, tmp_path)
    sources = load_registry()
    assert [(r.what, r.source) for r in missing if not r.optional] == PAPER
    assert [(r.what, r.optional) for r in missing if r.optional] == [("evaluate.lpips", True)]
    for r in missing:
        src = sources[r.source]
        expected = registry_place(src, tmp_path) if src.kind == "dataset" else tmp_path / "weights" / src.file
        assert (r.path, r.problem) == (expected, "missing")
    pwc = next(r for r in missing if r.source == "pwcnet")
    assert pwc.stages == ("train_ssnet", "scribbles", "colorize_official_svcnet")  # scribbles.protocol gcs


def test_cli_prints_one_line_per_missing_item_and_exits_2(tmp_path, capsys):
    assert main(["preflight", "--config", str(CONFIG), "--profile", "paper", "--fetch-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == len(PAPER) + 2  # + the optional LPIPS line + the summary
    assert [line.split(" -> ")[0] for line in err[:-1]] == [f"MISSING: {w}" for w, _ in PAPER] + [
        "optional: evaluate.lpips"
    ]
    assert (
        f"run `svcnet fetch vgg16 --dest {tmp_path}`" in err[5] and "svcnet fetch svcnet_davis_videvo_val_jpg" in err[2]
    )
    assert err[-1] == (
        "svcnet: error: preflight paper: 13 of 13 required item(s) missing (and 1 optional); nothing was started "
        "(get them, or pass --allow-missing)"
    )
    argv = ["preflight", "--config", str(CONFIG), "--profile", "paper", "--fetch-root", str(tmp_path)]
    assert main([*argv, "--allow-missing"]) == 0
    assert "--allow-missing: continuing" in capsys.readouterr().err.splitlines()[-1]


def test_demo_profile_needs_nothing_but_optional_lpips(tmp_path, capsys):
    assert main(["preflight", "--config", str(CONFIG), "--profile", "demo", "--fetch-root", str(tmp_path)]) == 0
    assert [r.what for r in requirements(load_config(CONFIG, "demo"), tmp_path)] == ["evaluate.lpips"]


def _registry_with_hashes(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """The repository's registry with the sha256 (and no size) of the given weight files' bytes."""
    data = yaml.safe_load(REPO_SOURCES.read_text())
    for name, content in files.items():
        entry = data["sources"][name]
        entry.update(sha256=hashlib.sha256(content).hexdigest(), sha256_prefix=None, size=None)
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _release_layout(root: Path, paper) -> dict[str, bytes]:
    """Every file and folder of the paper profile in the real layout under ``root``; weight name -> bytes."""
    files = {}
    for req in requirements(paper, root):
        if req.kind == "folder":
            (req.path / "clip").mkdir(parents=True)
        else:
            req.path.parent.mkdir(parents=True, exist_ok=True)
            files[req.source] = f"weights of {req.source}".encode()
            req.path.write_bytes(files[req.source])
    return files


def test_real_layout_passes_and_a_wrong_file_is_named(paper, tmp_path, monkeypatch, capsys):
    root = tmp_path / "root"
    files = _release_layout(root, paper)
    monkeypatch.setenv(SOURCES_ENV, str(_registry_with_hashes(tmp_path, files)))
    assert missing_requirements(paper, root) == []
    argv = ["preflight", "--config", str(CONFIG), "--profile", "paper", "--fetch-root", str(root)]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == "preflight paper: all 13 required files and folders are in place"

    ssnet = root / "weights" / "ssnet_epoch2000_bs8.pth"
    ssnet.write_bytes(b"another file")
    (bad,) = missing_requirements(paper, root)
    assert (bad.what, bad.path, bad.source) == ("evaluate.methods: official_svcnet", ssnet, "ssnet")
    assert bad.problem.startswith(f"sha256 {hashlib.sha256(b'another file').hexdigest()}, expected ")
    assert bad.how_to_get().startswith("remove it, then Open https://")
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith(f"MISSING: evaluate.methods: official_svcnet -> {ssnet} [sha256 ")


def test_unpacked_archive_missing_says_fetch_unpacks_it(paper, tmp_path):
    archive = tmp_path / "resources" / "downloads" / "DAVIS_Videvo_val.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"PK")
    val = next(r for r in missing_requirements(paper, tmp_path) if r.what == "data.eval.root")
    assert val.how_to_get() == f"run `svcnet fetch svcnet_davis_videvo_val_jpg` (it unpacks the archive {archive})"


def test_required_inputs_by_stage(paper, tmp_path):
    inputs = required_inputs(paper, tmp_path)
    w = tmp_path / "weights"
    assert inputs["prepare@eval"] == [str(tmp_path / "resources/svcnet/davis_videvo_val_jpg")]
    assert inputs["colorize_official_svcnet"] == [
        str(w / "pwcNet-default.pytorch"),
        str(w / "cpnet_epoch1000_batchsize32.pth"),
        str(w / "ssnet_epoch2000_bs8.pth"),
    ]
    assert sorted(inputs) == [
        "colorize_official_cpnet",
        "colorize_official_svcnet",
        "prepare@eval",
        "prepare@train",
        "scribbles",
        "train_cpnet",
        "train_ssnet",
    ]  # LPIPS (optional) only once present
    (w).mkdir()
    (w / "alexnet-owt-7be5be79.pth").write_bytes(b"x")
    assert required_inputs(paper, tmp_path)["evaluate"] == [str(w / "alexnet-owt-7be5be79.pth")]


def test_record_fingerprints_every_stage(paper, tmp_path, monkeypatch):
    from svcnet.preflight import STAGES

    root = tmp_path / "root"
    files = _release_layout(root, paper)
    hashed = {name: content for name, content in files.items() if name != "ssnet"}  # ssnet: no published sha256
    monkeypatch.setenv(SOURCES_ENV, str(_registry_with_hashes(tmp_path, hashed)))
    val = root / "resources/svcnet/davis_videvo_val_jpg"
    (val / "clip" / "00000.jpg").write_bytes(b"12345")
    (val / "clip" / "00001.jpg").write_bytes(b"678")
    out = tmp_path / "preflight.json"
    argv = ["preflight", "--config", str(CONFIG), "--profile", "paper", "--fetch-root", str(root), "--record", str(out)]
    assert main(argv) == 0
    rec = json.loads(out.read_text())
    assert list(rec) == sorted(STAGES)
    assert rec["prepare@eval"] == {str(val): "files:2:8"}
    cpnet = str(root / "weights/cpnet_epoch1000_batchsize32.pth")
    assert rec["colorize_official_cpnet"] == {cpnet: f"sha256:{hashlib.sha256(files['cpnet']).hexdigest()}"}
    ssnet = root / "weights/ssnet_epoch2000_bs8.pth"
    assert rec["colorize_official_svcnet"][str(ssnet)] == f"size:{ssnet.stat().st_size}"
    assert rec["pack"] == {} and rec["report"] == {}
    before = out.read_bytes()
    assert main(argv) == 0 and out.read_bytes() == before  # same inputs, same bytes
    ssnet.unlink()
    assert main(argv) == 2 and out.read_bytes() == before  # not rewritten when the run stops
    assert main([*argv, "--allow-missing"]) == 0
    assert json.loads(out.read_text())["colorize_official_svcnet"][str(ssnet)] == "missing"
