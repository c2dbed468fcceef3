"""Where each network's starting weights come from (official checkpoint, ImageNet VGG, earlier stage, or scratch),
with one log line per network saying which."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from svcnet.errors import CheckpointError

log = logging.getLogger(__name__)

REGISTRY = "registry"


def official_normal_init(module: nn.Module, std: float = 0.02) -> None:
    """The official SSNet ``weights_init(net, 'normal', 0.02)``: every conv weight ~ N(0, std), biases left as they are
    (spec §2.0; BatchNorm — absent from these nets — would get N(1, std)/0)."""
    for m in module.modules():
        if "Conv" in type(m).__name__ and isinstance(getattr(m, "weight", None), torch.Tensor):
            nn.init.normal_(m.weight, 0.0, std)
        elif "BatchNorm" in type(m).__name__ and getattr(m, "weight", None) is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def resolve_init(name: str, value: str | None) -> Path | None:
    """The file of init entry ``name``: None when not given; ``registry`` = the verified registry file
    (``weights/<file>``, svcnet.sources); ``registry:<entry>`` = the verified file of that registry entry where
    ``svcnet fetch`` puts it; any other value is a path (must exist; not checksum-verified, so own
    checkpoints work)."""
    if value is None or value == "":
        return None
    from svcnet.sources import registry_ref, resolve_registry_path, resolve_weight

    if value == REGISTRY:
        return resolve_weight(name)
    if registry_ref(value):  # registry:<entry>: that entry's verified file where `svcnet fetch` puts it
        return resolve_weight(registry_ref(value), path=resolve_registry_path(value))
    path = Path(value)
    if not path.is_file():
        raise CheckpointError(
            f"train.init.{name}: weight file not found: {path} (give an existing file, "
            f"`registry` for the official one under weights/, or null)"
        )
    return path


def load_into(module: nn.Module, path: Path, what: str, key: str | None = None) -> None:
    """Load a state_dict file into ``module`` with strict=True (``key``: take ``data[key]`` when present)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{what}: cannot read {path} ({exc.__class__.__name__}: {exc})") from exc
    if key and isinstance(data, dict) and key in data:
        data = data[key]
    data = {k[7:] if k.startswith("module.") else k: v for k, v in data.items()}
    try:
        module.load_state_dict(data, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{what}: {path} does not match the network ({first})") from exc
    log.info("init: %s from %s", what, path)
