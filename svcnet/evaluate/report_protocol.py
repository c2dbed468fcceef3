"""What a report states besides the numbers: method and test-set names, the reference figure of the official code,
the evaluation protocol of the run against the official one (with the reason for each deliberate difference), and
the provenance as rows of a small table."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from svcnet.evaluate.report_data import EvalRun

METHOD_LABELS = {
    "gray": "Grayscale input",
    "levin": "Levin et al. 2004",
    "cpnet": "CPNet (trained here)",
    "svcnet": "SVCNet (trained here)",
    "official_cpnet": "CPNet (official weights)",
    "official_svcnet": "SVCNet (official weights)",
}
TEST_SET_TITLES = {"DAVIS": "DAVIS", "videvo": "Videvo"}
# The figure recorded in the official validation code, shown under the table of its test set.
REFERENCE_LINES = {
    "DAVIS": (
        "Reference: SVCNet (official weights) on DAVIS, as recorded in the official validation code: PSNR 25.96, "
        'SSIM 0.9573 (comment at SSNet/validation.py L373 of zhaoyuzhi/SVCNet: "DAVIS: PSNR 25.95971, SSIM '
        "0.95730\"; docs/official.md §5.1). That is validation.py's internal metric: all frames including the "
        "first, on [0, 1] BGR at the original resolution, SSIM on floats with scikit-image ≤ 0.18's "
        "dtype-inferred data range 2, so it is indicative, not the protocol of this table."
    ),
}
NETWORK_METHODS = ("cpnet", "svcnet", "official_cpnet", "official_svcnet")
OFFICIAL = {
    "resolution": "original (docs/official.md §5.1)",
    "first_frame": "excluded",
    "means": "frame-weighted over all frames of all videos",
    "scribbles": "GCS: 40 single pixels, PWC-Net flow, nearest warp, 4×4 widening",
    "edge": "official (first/last 3 frames from CPNet)",
    "lightness": "official (BT.601 luma as Lab L)",
    "warp": "reference (Lai et al., evaluate_WarpError.py)",
}


def method_label(method: str) -> str:
    """The table label of a method (its own name when it is not one of the known methods)."""
    return METHOD_LABELS.get(method, method)


def test_set_title(name: str, dataset: str) -> str:
    """The heading of a test set's table (a flat clip set, test set ``all``, is titled by its dataset)."""
    return TEST_SET_TITLES.get(name, dataset if name == "all" else name)


test_set_title.__test__ = False  # not a pytest test when a test module imports it


def run_metadata(pred_root: str | Path) -> dict:
    """The metadata.json of the first video of a method's output (``<clip>/`` or ``<tag>/<clip>/``), or {}."""
    root = Path(pred_root)
    for meta in sorted(root.glob("*/metadata.json")) + sorted(root.glob("*/*/metadata.json")):
        try:
            return json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
    return {}


def scribble_record(scribbles: str | Path | None) -> dict:
    """The metadata.json of the first clip's scribbles under a scribble root, or {}."""
    return run_metadata(scribbles) if scribbles else {}


def _scribbles_text(record: dict, config: dict) -> str:
    if record:
        settings = record.get("settings", {})
        protocol = record.get("protocol", settings.get("protocol", "svcnet"))
        return f"{protocol} ({settings.get('points', '?')} points, flow {settings.get('flow', '?')})"
    configured = (config.get("scribbles") or {}).get("protocol")
    return f"{configured} (configured; no scribble metadata given)" if configured else "not recorded"


def _scribbles_note(record: dict, text: str) -> str:
    if text.startswith("svcnet"):
        return (
            "deliberate: whole squares tracked at sub-pixel positions with an occlusion check, so no point is "
            "duplicated or silently shifted (scribbles.protocol: gcs makes the official ones)"
        )
    if text.startswith("gcs"):
        differences = record.get("differences_from_official", [])
        return "; ".join(differences) if differences else "as the official script"
    return ""


def _distinct(values: Sequence[str]) -> str:
    seen = list(dict.fromkeys(v for v in values if v))
    return ", ".join(seen) if seen else "not recorded"


def protocol_rows(runs: Sequence[EvalRun], config: dict, scribbles: str | Path | None) -> list[list[str]]:
    """Rows (setting, this run, official protocol, note) of the protocol table."""
    resolution = _distinct([r.summary.get("resolution", {}).get("ground_truth", "") for r in runs])
    sizes = _distinct([s for r in runs for s in r.summary.get("resolution", {}).get("frame_sizes", [])][:4])
    first = _distinct(
        ["excluded" if r.summary.get("options", {}).get("exclude_first", True) else "included" for r in runs]
    )
    masks = _distinct(
        [str(r.summary.get("options", {}).get("warp_mask", "strict (before the reference mask)")) for r in runs]
    )
    networks = [r for r in runs if r.method in NETWORK_METHODS]
    metas = {r.method: run_metadata(r.summary["pred"]) for r in networks}
    edges = _distinct([str(m.get("edge_policy")) for k, m in metas.items() if "svcnet" in k and m.get("edge_policy")])
    lightness = _distinct([str(m.get("lightness")) for m in metas.values() if m.get("lightness")])
    record = scribble_record(scribbles)
    scribbles_text = _scribbles_text(record, config)
    label = _distinct([str(r.summary.get("protocol", {}).get("name", "svcnet")) for r in runs])
    rows = [
        ["Protocol (evaluate.protocol)", label, "paper", ""],
        [
            "Ground-truth resolution",
            resolution if resolution.startswith("working-size copy") else f"{resolution} ({sizes})",
            OFFICIAL["resolution"],
            "PSNR/SSIM at this resolution; the 256p columns on bilinear 448×256 copies"
            + ("" if resolution == "original" else "; data.eval.keep_size: true scores at the original resolution"),
        ],
        ["First frame", first, OFFICIAL["first_frame"], "" if first == "excluded" else "--include-first was given"],
        [
            "Means",
            "frame-weighted (PSNR, SSIM, LPIPS); warping error and CDC per video, then over videos",
            OFFICIAL["means"],
            "the official code has no temporal metric",
        ],
        ["Scribbles", scribbles_text, OFFICIAL["scribbles"], _scribbles_note(record, scribbles_text)],
        [
            "Edge frames (SVCNet)",
            edges if networks else "no SVCNet run",
            OFFICIAL["edge"],
            "deliberate: SSNet refines every frame, the window mirrored at the clip ends (infer.edge: official "
            "restores the released behaviour)"
            if "mirror" in edges
            else "",
        ],
        [
            "Output lightness (networks)",
            lightness if networks else "no network run",
            OFFICIAL["lightness"],
            "deliberate: each frame keeps its own Lab L (infer.lightness: official for parity)"
            if "input" in lightness
            else "",
        ],
        [
            "Warping error",
            masks,
            OFFICIAL["warp"],
            "flows: OpenCV DIS on the ground truth (Lai et al. used FlowNet2); docs/evaluation.md",
        ],
    ]
    return rows


PROTOCOL_HEADER = ["Setting", "This run", "Official protocol", "Note"]
PROVENANCE_HEADER = ["Item", "Value"]


def _weights_text(meta: dict) -> str:
    weights = meta.get("weights")
    if isinstance(weights, dict) and weights:
        parts = []
        for name, w in weights.items():
            if isinstance(w, dict):
                parts.append(f"{name}: {Path(str(w.get('path', '?'))).name} (sha256 {str(w.get('sha256', '?'))[:12]})")
        return "; ".join(parts)
    return ""


def provenance_rows(header: dict, runs: Sequence[EvalRun]) -> list[list[str]]:
    """Rows (item, value) of the provenance table; report.json keeps everything in full."""
    rows = [
        ["git commit", header["git_commit"]],
        ["profile", str(header["config"].get("profile", "?"))],
    ]
    for dataset, hashes in header["data_hashes"].items():
        combined = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16]
        rows.append([f"ground truth {dataset}", f"{len(hashes)} videos, sha256/16 of the per-video hashes {combined}"])
    flows = {json.dumps(r.summary.get("flow"), sort_keys=True): r.summary.get("flow") for r in runs}
    for flow in flows.values():
        if flow:
            rows.append(["warping-error flow", f"{flow.get('backend')} {flow.get('preset')} on the ground truth"])
    rows.append(["saliency (training)", header["saliency_backend"]])
    for r in runs:
        meta = run_metadata(r.summary["pred"])
        text = _weights_text(meta)
        flow = meta.get("flow") if isinstance(meta.get("flow"), dict) else None
        if flow:
            text += f"; flow {flow.get('backend')}"
        if text:
            rows.append([f"weights {method_label(r.method)}", text])
    for stage, cpu in header.get("training_cpu", {}).items():
        if cpu:
            rows.append([f"training CPU {stage}", ", ".join(f"{k} {v}" for k, v in cpu.items())])
    versions = header.get("versions", {})
    rows.append(["versions", ", ".join(f"{k} {v}" for k, v in versions.items())])
    return rows
