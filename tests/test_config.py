"""svcnet.config: schema validation (the same schema as Snakemake's validate), profiles, frozen dataclasses."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from svcnet.config import (
    ClipSetConfig,
    Config,
    deep_merge,
    from_mapping,
    load_config,
    load_raw,
    resolve,
    schema_path,
)
from svcnet.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "config.yaml"


def write(tmp_path: Path, data: dict, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def base() -> dict:
    return load_raw(CONFIG)


def test_default_config_loads_with_demo_profile():
    cfg = load_config(CONFIG)
    assert isinstance(cfg, Config)
    assert cfg.profile == "demo"
    assert (cfg.data.height, cfg.data.width) == (256, 448)
    assert cfg.data.eval.source == "demo"
    assert cfg.data.eval.max_frames == base()["profiles"]["demo"]["data"]["eval"]["max_frames"]
    assert cfg.pack.maps == ("masks", "saliency")
    assert isinstance(cfg.data.eval.sequences, tuple)


def test_profile_argument_overrides_file_and_merges_key_by_key():
    cfg = load_config(CONFIG, profile="davis2017")
    assert cfg.profile == "davis2017"
    assert cfg.data.train == ClipSetConfig(source="davis2017", root=None, split="train", sequences=(), max_frames=0)
    assert cfg.data.eval.split == "val"
    assert cfg.data.height == 256  # untouched defaults survive the merge


def test_paper_profile_reads_the_svcnet_releases_by_registry_name():
    cfg = load_config(CONFIG, profile="paper")
    assert cfg.data.train == ClipSetConfig(
        source="svcnet_davis_videvo_train",
        root="registry:svcnet_davis_videvo_train_jpg",
        seg="registry:svcnet_davis_videvo_train_seg_saliency",
    )
    assert cfg.data.eval == ClipSetConfig(
        source="svcnet_davis_videvo_val", root="registry:svcnet_davis_videvo_val_jpg", keep_size=True
    )
    assert cfg.section("evaluate")["methods"] == (
        "gray",
        "levin",
        "official_cpnet",
        "official_svcnet",
        "cpnet",
        "svcnet",
    )
    cpnet1 = cfg.section("train")["cpnet1"]
    assert (cpnet1["images"], cpnet1["image_saliency"]) == (
        "registry:svcnet_imagenet_train_jpg",
        "registry:svcnet_imagenet_train_saliency",
    )


def test_config_is_frozen():
    cfg = load_config(CONFIG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.profile = "paper"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.raw["data"]["height"] = 1  # type: ignore[index]
    assert "profiles" not in cfg.raw


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d["data"].update(heigth=256), "data: Additional properties are not allowed ('heigth'"),
        (lambda d: d["data"].update(height="256"), "data.height: '256' is not of type 'integer'"),
        (lambda d: d["data"].update(width=450), "data.width: 450 is not a multiple of 16"),
        (lambda d: d["data"]["eval"].update(source="davis2016_local"), "data.eval.root: None is not of type 'string'"),
        (lambda d: d["data"]["train"].update(source="youtube"), "data.train.source: 'youtube' is not one of"),
        (lambda d: d["pack"].update(png_compression=10), "pack.png_compression: 10 is greater than the maximum of 9"),
        (lambda d: d.pop("pack"), "(top level): 'pack' is a required property"),
        (lambda d: d.update(scribbles=[1]), "scribbles: [1] is not of type 'object'"),
        (lambda d: d["profiles"]["demo"].update(profile="x"), "profiles.demo:"),
    ],
)
def test_invalid_config_names_the_key(tmp_path, edit, expected):
    data = base()
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert expected in str(exc.value)
    assert str(path) in str(exc.value)


def test_profile_that_breaks_the_schema_is_reported_with_its_name(tmp_path):
    data = base()
    data["profiles"]["bad"] = {"data": {"height": 100}}
    with pytest.raises(ConfigError, match=r"with profile 'bad'.*data\.height: 100 is not a multiple of 16"):
        load_config(write(tmp_path, data), profile="bad")


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(
        ConfigError, match=r"profile 'nope' is not defined under `profiles` \(known: davis2017, demo, paper, small\)"
    ):
        load_config(CONFIG, profile="nope")


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_later_config_files_are_merged_over_earlier_ones(tmp_path):
    override = write(tmp_path, {"profile": "small", "data": {"interpolation": "cubic"}}, "override.yaml")
    cfg = load_config([CONFIG, override])
    assert cfg.profile == "small"
    assert cfg.data.interpolation == "cubic"
    assert cfg.data.eval.max_frames == 30 and cfg.data.eval.source == "davis2016_local"  # small profile


def test_deep_merge_replaces_lists_and_merges_mappings():
    merged = deep_merge({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}


@dataclasses.dataclass(frozen=True)
class _Inner:
    steps: int


@dataclasses.dataclass(frozen=True)
class _Section:
    name: str
    inner: _Inner
    sizes: tuple[int, ...] = ()
    note: str | None = None


def test_section_as_builds_nested_frozen_dataclasses(tmp_path):
    data = base()
    data["report"] = {"name": "x", "inner": {"steps": 3}, "sizes": [1, 2]}  # an open section of the schema
    cfg = load_config(write(tmp_path, data))
    sec = cfg.section_as("report", _Section)
    assert sec == _Section(name="x", inner=_Inner(steps=3), sizes=(1, 2))
    assert cfg.section("no_such_stage") == {}
    with pytest.raises(ConfigError, match=r"infer: unknown key\(s\) typo"):
        from_mapping(_Section, {"name": "x", "inner": {"steps": 1}, "typo": 1}, where="infer")
    with pytest.raises(ConfigError, match=r"infer.inner.steps: required key is missing"):
        from_mapping(_Section, {"name": "x", "inner": {}}, where="infer")


def test_snakemake_validate_uses_the_same_schema(tmp_path):
    from snakemake.utils import validate

    data = base()
    validate(data, str(schema_path()), set_default=False)
    data["data"]["height"] = "x"
    with pytest.raises(Exception, match="is not of type 'integer'"):
        validate(data, str(schema_path()), set_default=False)


def test_resolve_returns_plain_dict_without_profiles():
    out = resolve(base(), "small")
    assert out["profile"] == "small" and "profiles" not in out
    assert out["data"]["train"]["max_frames"] == 0


def test_cli_reports_invalid_config_in_one_line(tmp_path):
    data = base()
    data["data"]["height"] = -16
    path = write(tmp_path, data)
    proc = subprocess.run(
        [sys.executable, "-m", "svcnet", "prepare", "--config", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"svcnet: error: {path}: data.height: -16 is less than the minimum of 16"]
    assert not (tmp_path / "out").exists()
