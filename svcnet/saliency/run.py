"""``svcnet saliency``: one saliency map per frame, the CPNet seg-head target (spec §3.1–3.3, §4.1).

Methods: ``release`` (the clip's own prepared saliency maps: a release's seg targets, such as the DAVIS-Videvo fusion
folder of DAVIS masks and PFAN saliency, which ``svcnet prepare`` stores as the clip's ``saliency`` maps), ``pfan``
(the PFAN network, needs the ``pfan`` weights of the source registry), ``masks`` (the dataset's object masks, as the
official DAVIS+Videvo "fusion" folder uses DAVIS ground truth), ``spectral_residual`` / ``fine_grained`` (weight-free
OpenCV saliency), and ``auto``: the release maps when the clip has them, else PFAN when its weights are there, else the
clip's masks when it has them, else the classical ``fallback``. Which method made each clip's maps, and why, is
written to ``out/<clip>/metadata.json`` and logged.

Output: ``out/<clip>/<frame>.png`` (uint8, same size and names as the frames), the layout ``svcnet pack --map
saliency=out`` reads. Each clip folder appears atomically after all its frames were read; a clip already done with
the same method and settings is skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from svcnet.data.atomic import atomic_path, remove_stale_temps
from svcnet.data.clips import Clip, discover_clips
from svcnet.data.frames import encode_png, read_mask, read_rgb
from svcnet.errors import CheckpointError, SvcnetError
from svcnet.saliency.classical import METHODS as CLASSICAL

log = logging.getLogger(__name__)

METHODS = ("auto", "release", "pfan", "masks", *CLASSICAL)
METADATA = "metadata.json"


@dataclasses.dataclass(frozen=True)
class SaliencySettings:
    """Which saliency method to use and how (``config.yaml: saliency``)."""

    method: str = "auto"
    fallback: str = "spectral_residual"  # classical method of ``auto`` for clips without masks
    weights: str | None = None  # PFAN checkpoint; None = the registry file under weights/
    size: int = 256  # PFAN input side (the port's 256)
    batch: int = 4
    device: str = "auto"

    def check(self) -> None:
        if self.method not in METHODS:
            raise SvcnetError(f"unknown saliency method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.fallback not in CLASSICAL:
            raise SvcnetError(f"saliency fallback must be one of {', '.join(CLASSICAL)}, got {self.fallback!r}")
        if self.size < 32 or self.size % 16:
            raise SvcnetError(f"saliency size must be a multiple of 16 (at least 32), got {self.size}")


def find_pfan_weights(settings: SaliencySettings, required: bool) -> tuple[Path | None, str]:
    """(weights path or None, explanation); CheckpointError when ``required`` and they are missing."""
    from svcnet.sources import resolve_weight

    try:
        path = resolve_weight("pfan", path=Path(settings.weights) if settings.weights else None)
    except CheckpointError as exc:
        if required:
            raise
        return None, f"PFAN weights not available ({exc})"
    return path, f"PFAN weights {path}"


def choose_method(settings: SaliencySettings, clip: Clip, pfan_path: Path | None) -> tuple[str, str]:
    """(method, reason) for one clip."""
    if settings.method != "auto":
        return settings.method, f"method {settings.method} requested"
    if "saliency" in clip.maps:
        return "release", "auto: the clip's prepared seg/saliency maps (the data release's seg targets)"
    if pfan_path is not None:
        return "pfan", "auto: PFAN weights found"
    if "masks" in clip.maps:
        return "masks", "auto: no PFAN weights; the clip's dataset masks are used (fallback)"
    return settings.fallback, f"auto: no PFAN weights and no dataset masks; classical {settings.fallback} (fallback)"


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def clip_maps(clip: Clip, method: str, settings: SaliencySettings, net=None) -> list[np.ndarray]:
    """The uint8 saliency maps of a clip's frames with ``method``."""
    if method == "release":
        if "saliency" not in clip.maps:
            raise SvcnetError(f"clip {clip.name!r} has no prepared saliency maps; use another saliency method")
        return [read_mask(p) for p in clip.maps["saliency"]]
    if method == "masks":
        if "masks" not in clip.maps:
            raise SvcnetError(f"clip {clip.name!r} has no masks folder; use another saliency method")
        return [np.where(read_mask(p) > 0, 255, 0).astype(np.uint8) for p in clip.maps["masks"]]
    frames = [read_rgb(p) for p in clip.frames]
    if method == "pfan":
        from svcnet.saliency.pfan import pfan_saliency

        return pfan_saliency(net, frames, size=settings.size, batch=settings.batch)
    from svcnet.saliency.classical import classical_saliency

    return [classical_saliency(f, method) for f in frames]


def _up_to_date(dest: Path, record: dict, stems: Sequence[str]) -> bool:
    try:
        old = json.loads((dest / METADATA).read_text())
    except (OSError, ValueError):
        return False
    return old.get("settings") == record and old.get("frame_names") == list(stems)


def saliency_clip(
    clip: Clip,
    dest: str | os.PathLike,
    method: str,
    reason: str,
    settings: SaliencySettings,
    net=None,
    weights: Path | None = None,
    force: bool = False,
) -> dict:
    """Write one clip's maps to ``dest`` (atomically); returns its metadata."""
    dest = Path(dest)
    record = {
        "method": method,
        "size": settings.size if method == "pfan" else None,
        "weights": str(weights) if method == "pfan" else None,
    }
    if not force and _up_to_date(dest, record, clip.stems):
        log.info("%s: saliency up to date in %s (%s)", clip.name, dest, method)
        return {**json.loads((dest / METADATA).read_text()), "skipped": True}
    start = time.perf_counter()
    maps = clip_maps(clip, method, settings, net)
    seconds = time.perf_counter() - start
    meta = {
        "clip": clip.name,
        "method": method,
        "reason": reason,
        "frames": len(maps),
        "frame_names": list(clip.stems),
        "size": [clip.height, clip.width],
        "settings": record,
    }
    remove_stale_temps(dest)
    with atomic_path(dest) as tmp:
        tmp.mkdir()
        for stem, m in zip(clip.stems, maps):
            (tmp / f"{stem}.png").write_bytes(encode_png(m))
        (tmp / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
    log.info(
        "%s: %d saliency maps by %s (%s), %.1f ms/frame → %s",
        clip.name,
        len(maps),
        method,
        reason,
        1000 * seconds / max(1, len(maps)),
        dest,
    )
    return meta


def run_saliency(
    clips_dir: str | os.PathLike,
    out: str | os.PathLike,
    settings: SaliencySettings,
    clips: Sequence[str] = (),
    force: bool = False,
) -> list[dict]:
    """Saliency maps for the named ``clips`` (all when empty) of ``clips_dir`` into ``out/<clip>/``."""
    settings.check()
    found = discover_clips(clips_dir, sequences=list(clips), check_all=True)
    pfan_path, why = (None, "")
    if settings.method == "pfan" or (settings.method == "auto" and any("saliency" not in c.maps for c in found)):
        pfan_path, why = find_pfan_weights(settings, required=settings.method == "pfan")
        if pfan_path is None:
            log.warning("saliency: %s; using the fallback (dataset masks, else %s)", why, settings.fallback)
    net = None
    results = []
    for clip in found:
        method, reason = choose_method(settings, clip, pfan_path)
        if method == "pfan" and net is None:
            from svcnet.saliency.pfan import load_pfan

            net = load_pfan(pfan_path, _device(settings.device))
        results.append(
            saliency_clip(
                clip,
                Path(out) / clip.name,
                method,
                reason,
                settings,
                net,
                pfan_path if method == "pfan" else None,
                force,
            )
        )
    return results
