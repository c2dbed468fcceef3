"""Official-layout checkpoints: read a state_dict file safely, load it strictly with one clear error, save
atomically."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from svcnet.data.atomic import NO_SPACE, atomic_named_path, disk_full, free_bytes
from svcnet.errors import CheckpointError

_SHOW = 5  # keys listed per kind of problem


def unwrap_state_dict(obj: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The flat state_dict inside a loaded checkpoint object: ``obj['state_dict']`` when present, keys stripped of a
    ``module.`` prefix (DataParallel) when every key has it."""
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(
            f"{source} holds no state_dict (got {type(obj).__name__}); provide a file saved from model.state_dict()"
        )
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source} is not a flat state_dict of tensors (e.g. entry {bad[0]!r})")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return dict(obj)


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a checkpoint with ``torch.load(map_location='cpu', weights_only=True)`` and return its flat state_dict."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or pickled objects other than tensors
        raise CheckpointError(
            f"cannot read checkpoint {path} ({exc.__class__.__name__}: {' '.join(str(exc).split())[:200]})"
        ) from exc
    return unwrap_state_dict(obj, str(path))


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOW])
    return shown + (f", … (+{len(items) - _SHOW} more)" if len(items) > _SHOW else "")


def mismatch_report(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """One-line description of missing / unexpected keys and shape mismatches, or None when the keys match."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} (file {'x'.join(map(str, state[k].shape)) or 'scalar'}, network "
        f"{'x'.join(map(str, own[k].shape)) or 'scalar'})"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    parts = [
        f"{len(v)} {name}: {_listing(v)}"
        for name, v in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes))
        if v
    ]
    return "; ".join(parts) if parts else None


def load_official(
    model: nn.Module, path_or_state: str | os.PathLike | Mapping[str, torch.Tensor], what: str = "CPNet"
) -> nn.Module:
    """Load an official-layout checkpoint (file path or state_dict) into ``model`` with strict=True; any key or
    shape difference raises one :class:`CheckpointError` naming the first offending keys. Returns ``model``."""
    if isinstance(path_or_state, Mapping):
        source = f"the given {what} state_dict"
        state = unwrap_state_dict(path_or_state, source)
    else:
        source = str(path_or_state)
        state = load_state_dict_file(path_or_state)
    problem = mismatch_report(model, state)
    if problem:
        raise CheckpointError(
            f"{what} checkpoint {source} does not match the {what} network ({problem}); "
            f"provide the official {what} weights"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # e.g. a tensor that cannot be converted
        raise CheckpointError(
            f"{what} checkpoint {source} cannot be loaded: {' '.join(str(exc).split())[:300]}"
        ) from exc
    return model


def save_official(model: nn.Module, path: str | os.PathLike) -> Path:
    """Save ``model.state_dict()`` (CPU tensors, official keys, aliases kept as shared storage) atomically."""
    state = {k: v.detach().to("cpu") for k, v in model.state_dict().items()}
    return save_torch_file(state, path)


def save_torch_file(obj: object, path: str | os.PathLike) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically. The zip archive inside is named after ``path`` (as a direct
    ``torch.save(obj, path)`` names it), so the same ``obj`` saved to the same path gives the same bytes."""
    path = Path(path)
    with atomic_named_path(path) as tmp:
        try:
            torch.save(_interned(obj), tmp)
        except (RuntimeError, OSError) as exc:
            # torch's zip writer reports a short write ("unexpected pos") as a RuntimeError, without the errno
            needed = _tensor_bytes(obj)
            if getattr(exc, "errno", None) in NO_SPACE or free_bytes(tmp.parent) < needed:
                raise disk_full(path, needed) from exc
            raise
    return path


def _tensor_bytes(obj: object) -> int:
    """Bytes of the tensors in ``obj`` (nested dicts, lists and tuples): the least its saved file takes."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, Mapping):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def _interned(obj: object) -> object:
    """``obj`` with every string interned. Pickle writes a string once and refers back to it when the same object
    recurs, so equal strings that are distinct objects (a resumed optimizer's keys, unpickled, beside the code's
    literals) would change the bytes of equal states."""
    if isinstance(obj, str):
        return sys.intern(obj)
    if isinstance(obj, dict):
        out = type(obj)((_interned(k), _interned(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # a module state_dict's version records
            out._metadata = _interned(obj._metadata)
        return out
    if isinstance(obj, list | tuple) and type(obj) in (list, tuple):
        return type(obj)(_interned(v) for v in obj)
    return obj
