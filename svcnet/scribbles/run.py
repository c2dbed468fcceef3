"""``svcnet scribbles``: evaluation scribbles for the clips of a folder, written in the official format.

Output: ``out/<style>/<clip>/<frame>_<H>p.png`` + ``metadata.json`` (settings, flow backend, per-frame point counts,
whether dropped points were re-seeded, and the deliberate differences from the official generator). All frames of a
clip are read and checked before anything is written, and each clip folder appears atomically; a clip whose folder
already holds scribbles made with the same settings is skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from svcnet.data.atomic import remove_stale_temps
from svcnet.data.clips import Clip, discover_clips
from svcnet.data.frames import read_rgb
from svcnet.errors import InputError
from svcnet.scribbles.fileformat import METADATA, write_scribble_clip
from svcnet.scribbles.flow import FlowEstimator
from svcnet.scribbles.generate import EvalScribbleSettings, generate_scribbles

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ScribbleStageConfig:
    """The ``scribbles:`` section of config/config.yaml (the working size comes from ``data:``)."""

    points: int = 40
    width: int = 5
    seed: int = 0
    styles: tuple[str, ...] = ("gt",)
    reseed: bool = False
    occlusion_check: bool = True
    occlusion_tolerance: float = 1.5
    flow: str = "dis"
    dis_preset: str = "medium"
    pwcnet_weights: str | None = None
    protocol: str = "svcnet"


DIFFERENCES = (
    "first-frame points are drawn in [w//2, size - w//2] so every square is whole (official: randint(1, H-1) "
    "single pixels; points in rows/columns 0-1 paint nothing after widening)",
    "points are tracked at sub-pixel positions along the forward flow and dropped when they leave the frame or fail "
    "the forward-backward occlusion check (official: nearest-neighbour backward warp of the point image, which can "
    "duplicate or drop points and re-quantises positions every frame)",
    "squares are clipped at the image border instead of disappearing",
    "a black colour is written as (1, 1, 1) so the point stays a scribble (black = none)",
)


def differences(settings: EvalScribbleSettings, flow_name: str) -> list[str]:
    """The deliberate differences from the official generator of the scribbles made with ``settings``."""
    if settings.protocol != "gcs":
        return list(DIFFERENCES)
    from svcnet.scribbles.gcs import DIFFERENCES as GCS_DIFFERENCES

    out = list(GCS_DIFFERENCES)
    if flow_name != "pwcnet-gcs":
        out.append(f"flow {flow_name} instead of PWC-Net with GCS's nearest/zero-padded warps (no PWC-Net weights)")
    return out


def _settings_record(settings: EvalScribbleSettings, flow_name: str) -> dict:
    rec = dataclasses.asdict(settings)
    rec["size"] = list(settings.size)
    rec["flow"] = flow_name
    return rec


def _up_to_date(dest: Path, record: dict, stems: Sequence[str]) -> bool:
    meta = dest / METADATA
    if not meta.is_file():
        return False
    try:
        old = json.loads(meta.read_text())
    except (OSError, ValueError):
        return False
    return old.get("settings") == record and old.get("frame_names") == list(stems)


def scribble_clip(
    clip: Clip, dest: str | os.PathLike, settings: EvalScribbleSettings, flow: FlowEstimator, force: bool = False
) -> dict:
    """Generate and write one clip's scribbles into ``dest``; returns its metadata (``skipped`` when up to date)."""
    dest = Path(dest)
    record = _settings_record(settings, flow.name)
    if not force and _up_to_date(dest, record, clip.stems):
        log.info("%s: scribbles up to date in %s", clip.name, dest)
        return {**json.loads((dest / METADATA).read_text()), "skipped": True}
    frames = [read_rgb(p) for p in clip.frames]
    start = time.perf_counter()
    result = generate_scribbles(frames, settings, flow if len(frames) > 1 else None)
    seconds = time.perf_counter() - start
    remove_stale_temps(dest)
    meta = {
        "clip": clip.name,
        "style": settings.style,
        "frames": len(frames),
        "frame_names": list(clip.stems),
        "source_size": [clip.height, clip.width],
        "settings": record,
        "reseed": settings.reseed,
        "dropped_points": (
            "re-seeded on the frame where they were lost"
            if settings.reseed and settings.protocol != "gcs"
            else "not replaced"
        ),
        "format": f"<frame>_{settings.size[0]}p.png, RGB {settings.size[1]}x{settings.size[0]}, black = no scribble",
        "points_per_frame": result.alive,
        "dropped_per_frame": result.dropped,
        "reseeded_per_frame": result.reseeded,
        "first_frame_points": result.first_points,
        "protocol": settings.protocol,
        "differences_from_official": differences(settings, flow.name),
    }
    write_scribble_clip(dest, clip.stems, result.images, meta)
    log.info(
        "%s: %d frames, %d → %d points, %.1f ms/frame (%s) → %s",
        clip.name,
        len(frames),
        result.alive[0],
        result.alive[-1],
        1000 * seconds / len(frames),
        flow.name,
        dest,
    )
    return meta


def run_scribbles(
    clips_dir: str | os.PathLike,
    out: str | os.PathLike,
    settings: EvalScribbleSettings,
    flow: FlowEstimator,
    styles: Sequence[str] = ("gt",),
    clips: Sequence[str] = (),
    force: bool = False,
) -> list[dict]:
    """Scribbles for the named ``clips`` (all when empty) of ``clips_dir`` in every style: ``out/<style>/<clip>/``."""
    if not styles:
        raise InputError("no scribble style given")
    found = discover_clips(clips_dir, sequences=list(clips), check_all=True)
    results = []
    for style in styles:
        styled = dataclasses.replace(settings, style=style)
        styled.check()
        for clip in found:
            results.append(scribble_clip(clip, Path(out) / style / clip.name, styled, flow, force=force))
    return results
