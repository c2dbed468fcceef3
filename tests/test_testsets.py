"""Test sets of clip ids and the clip lists known at plan time (svcnet.data.testsets)."""

from __future__ import annotations

import shutil

import pytest

from svcnet.config import load_config
from svcnet.data.prepare import DEMO_ROOT
from svcnet.data.testsets import (
    DEFAULT_TEST_SET,
    planned_clips,
    read_list,
    release_list,
    split_test_sets,
    test_set_of,
)
from svcnet.errors import InputError

CONFIG = DEMO_ROOT.parents[2] / "config" / "config.yaml"


def test_test_set_of_tagged_and_flat_ids():
    assert test_set_of("DAVIS/bear") == "DAVIS"
    assert test_set_of("videvo/BirdsFlying") == "videvo"
    assert test_set_of("dog") == DEFAULT_TEST_SET == "all"


def test_split_test_sets_keeps_order():
    ids = ["videvo/b", "DAVIS/x", "videvo/a", "DAVIS/y"]
    assert split_test_sets(ids) == {"videvo": ["videvo/b", "videvo/a"], "DAVIS": ["DAVIS/x", "DAVIS/y"]}
    assert list(split_test_sets(ids)) == ["videvo", "DAVIS"]
    assert split_test_sets(["dog", "blackswan"]) == {"all": ["dog", "blackswan"]}
    assert split_test_sets([]) == {}


def _cfg(tmp_path, data: str, profile: str = "demo"):
    extra = tmp_path / "extra.yaml"
    extra.write_text(data)
    return load_config([CONFIG, extra], profile)


def test_planned_clips_demo_and_sequences(tmp_path):
    cfg = load_config(CONFIG, "demo")
    assert planned_clips(cfg, "eval") == ["blackswan", "car-shadow", "dog"]
    cfg = _cfg(tmp_path, "data: {eval: {source: demo, sequences: [dog]}}")
    assert planned_clips(cfg, "eval") == ["dog"]


def test_planned_clips_existing_folder_nested(tmp_path):
    root = tmp_path / "val"
    for tag, clip in (("videvo", "b2"), ("DAVIS", "dog"), ("videvo", "b10")):
        shutil.copytree(DEMO_ROOT / "dog" / "frames", root / tag / clip)
    cfg = _cfg(tmp_path, f"data: {{eval: {{source: svcnet_davis_videvo_val, root: {root}}}}}")
    assert planned_clips(cfg, "eval") == ["DAVIS/dog", "videvo/b2", "videvo/b10"]


def test_planned_clips_release_list_when_absent(tmp_path):
    cfg = _cfg(tmp_path, "data: {eval: {source: svcnet_davis_videvo_val, max_frames: 3}}")
    ids = planned_clips(cfg, "eval", fetch_root=tmp_path)
    assert ids == read_list(release_list("svcnet_davis_videvo_val"))
    assert {k: len(v) for k, v in split_test_sets(ids).items()} == {"DAVIS": 30, "videvo": 20}


def test_planned_clips_missing_local_folder(tmp_path):
    cfg = _cfg(tmp_path, f"data: {{eval: {{source: folder, root: {tmp_path / 'nope'}}}}}")
    with pytest.raises(InputError, match="nope"):
        planned_clips(cfg, "eval")
