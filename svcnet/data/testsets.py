"""Test sets of an evaluation clip set, and the clip ids a split will have, known before any stage runs.

A clip id is the clip's path under the prepared split folder: ``"<tag>/<video>"`` for a tagged source (the
DAVIS-Videvo validation release: tags ``DAVIS`` and ``videvo``), a plain name for a flat one. The test set of an id is
its tag; flat ids all belong to :data:`DEFAULT_TEST_SET`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from svcnet.errors import InputError

DEFAULT_TEST_SET = "all"
LISTS_DIR = Path(__file__).resolve().parents[2] / "datasets" / "lists"


def test_set_of(clip_id: str) -> str:
    """The test set of a clip id: the part before its slash, or :data:`DEFAULT_TEST_SET` for a flat id."""
    tag, sep, _ = clip_id.partition("/")
    return tag if sep else DEFAULT_TEST_SET


test_set_of.__test__ = False  # not a pytest test when a test module imports it


def split_test_sets(ids: Iterable[str]) -> dict[str, list[str]]:
    """Clip ids grouped by test set, test sets in order of first appearance, ids in the order given."""
    out: dict[str, list[str]] = {}
    for clip_id in ids:
        out.setdefault(test_set_of(clip_id), []).append(clip_id)
    return out


def read_list(path: str | os.PathLike) -> list[str]:
    """Clip ids of a list file: one per line; blank lines and ``#`` comments ignored."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def release_list(name: str) -> Path:
    """``datasets/lists/<name>.txt``: the clip list of a release shipped in the repository."""
    return LISTS_DIR / f"{name}.txt"


def planned_clips(cfg: Any, split: str, fetch_root: str | os.PathLike = ".") -> list[str]:
    """The clip ids split ``split`` of ``cfg`` will have, without running a stage.

    ``data.<split>.sequences`` when given; else the clips of the source folder when it exists (the embedded clips for
    the demo source); else the release's clip list shipped in ``datasets/lists/``. ``max_frames`` does not change the
    list. InputError when none of these is available (a local folder that is not there).
    """
    from svcnet.data.prepare import list_name, source_ids, source_root

    cs = cfg.data.clipset(split)
    if cs.sequences:
        return list(cs.sequences)
    root = source_root(cs, fetch_root)
    if root.exists():
        return source_ids(cs, root)
    name = list_name(cs)
    if name and release_list(name).is_file():
        return read_list(release_list(name))
    raise InputError(
        f"data.{split}: cannot list the clips of source {cs.source!r}: {root} does not exist"
        + (f" and the repository has no clip list {release_list(name)}" if name else "")
        + "; put the data in place (`svcnet preflight` says how) or set data."
        + f"{split}.sequences"
    )
