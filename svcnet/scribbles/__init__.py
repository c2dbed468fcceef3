"""Colour scribbles: evaluation scribbles carried along the flow (docs/official.md §4.2), the official format (§4.3),
the "diverse" colour styles, and the random training transform (docs/official.md §3.3)."""

from svcnet.scribbles.fileformat import (
    list_scribbles,
    match_scribbles,
    read_scribble,
    scribble_filename,
    write_scribble_clip,
)
from svcnet.scribbles.flow import FlowEstimator, dis_estimator, make_flow_estimator, pwc_estimator
from svcnet.scribbles.generate import EvalScribbleSettings, generate_scribbles
from svcnet.scribbles.styles import STYLES
from svcnet.scribbles.training import RandomScribble, RandomWindowScribble

__all__ = [
    "STYLES",
    "EvalScribbleSettings",
    "FlowEstimator",
    "RandomScribble",
    "RandomWindowScribble",
    "dis_estimator",
    "generate_scribbles",
    "list_scribbles",
    "make_flow_estimator",
    "match_scribbles",
    "pwc_estimator",
    "read_scribble",
    "scribble_filename",
    "write_scribble_clip",
]
