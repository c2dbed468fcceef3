"""The ``evaluate`` config section (workflow/schemas/config.schema.yaml) as options; CLI options override it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from svcnet.config import DEFAULT_CONFIG
from svcnet.errors import SvcnetError
from svcnet.evaluate.runner import EvaluateOptions
from svcnet.ops.occlusion import MASK_VARIANTS

METHODS = ("gray", "levin", "cpnet", "svcnet")
OFFICIAL_METHODS = ("official_cpnet", "official_svcnet")  # the released CPNet / CPNet + SSNet (registry cpnet, ssnet)


@dataclass(frozen=True)
class EvaluateSection:
    """``evaluate:`` of config/config.yaml."""

    methods: tuple[str, ...] = METHODS
    exclude_first: bool = True
    flow_preset: str = "medium"
    batch: int = 8
    lpips: bool = True
    lpips_weights: str | None = None
    device: str = "auto"
    warp_mask: str = "reference"
    protocol: str = "svcnet"


def read_section(config: Sequence[os.PathLike] | None, profile: str | None) -> EvaluateSection:
    """The section from the given config files (config/config.yaml when none are given and it exists)."""
    from svcnet.config import load_config

    paths = list(config or [])
    if not paths:
        if not Path(DEFAULT_CONFIG).is_file():
            return EvaluateSection()
        paths = [DEFAULT_CONFIG]
    return load_config(paths, profile).section_as("evaluate", EvaluateSection)


def evaluate_options(
    config: Sequence[os.PathLike] | None,
    profile: str | None,
    *,
    method: str | None = None,
    dataset: str | None = None,
    lpips_weights: os.PathLike | None = None,
    include_first: bool | None = None,
    device: str | None = None,
    warp_mask: str | None = None,
) -> EvaluateOptions:
    """EvaluateOptions from the config section with the CLI's explicit values on top."""
    sec = read_section(config, profile)
    opts = EvaluateOptions(
        method=method,
        dataset=dataset,
        exclude_first=sec.exclude_first,
        flow_preset=sec.flow_preset,
        batch=sec.batch,
        lpips=sec.lpips,
        lpips_weights=sec.lpips_weights,
        device=sec.device,
        warp_mask=sec.warp_mask,
        protocol=sec.protocol,
    )
    if lpips_weights is not None:
        opts = replace(opts, lpips_weights=str(lpips_weights))
    if include_first is not None:
        opts = replace(opts, exclude_first=not include_first)
    if device is not None:
        opts = replace(opts, device=device)
    if warp_mask is not None:
        opts = replace(opts, warp_mask=warp_mask)
    if opts.warp_mask not in MASK_VARIANTS:
        raise SvcnetError(f"unknown warping-error mask {opts.warp_mask!r}; choose one of {', '.join(MASK_VARIANTS)}")
    return opts
