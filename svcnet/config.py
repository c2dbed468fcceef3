"""Pipeline configuration: YAML files validated by workflow/schemas/config.schema.yaml, profile applied, frozen
dataclasses out.

The schema is the one Snakemake's ``validate()`` uses, so the Snakefile and every ``svcnet`` command accept exactly the
same files. A profile (``profile: demo|small|paper``) is a partial config in ``profiles:`` merged over the defaults:
mappings key by key, lists and scalars replaced.

Stages own a section each (``saliency``, ``scribbles``, ``train``, ``infer``, ``evaluate``, ``report``); read one as
your own frozen dataclass with ``cfg.section_as("infer", InferConfig)``.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

from svcnet.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = Path("config") / "config.yaml"
SCHEMA_ENV = "SVCNET_CONFIG_SCHEMA"
SPLITS = ("train", "eval")

T = TypeVar("T")


# -------------------------------------------------------------------------------------------------------- dataclasses
@dataclasses.dataclass(frozen=True)
class ClipSetConfig:
    """Which clips one split uses: a source, optional folder, sequence list, frame cap and seg-target folder."""

    source: str
    root: str | None = None
    split: str | None = None
    sequences: tuple[str, ...] = ()
    max_frames: int = 0
    seg: str | None = None
    keep_size: bool = False  # prepare copies frames at their original size (evaluation at the original resolution)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Working size, resize filter and the clip sets of the ``train`` and ``eval`` splits."""

    height: int
    width: int
    interpolation: str
    train: ClipSetConfig
    eval: ClipSetConfig

    def clipset(self, split: str) -> ClipSetConfig:
        """The clip set of ``split`` (``train`` or ``eval``)."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return getattr(self, split)


@dataclasses.dataclass(frozen=True)
class PackConfig:
    """lmdb packing: PNG compression level and which per-frame maps to include."""

    png_compression: int
    maps: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Config:
    """The resolved configuration (profile applied). ``raw`` is the whole resolved mapping, read-only."""

    profile: str
    data: DataConfig
    pack: PackConfig
    raw: Mapping[str, Any]

    def section(self, name: str) -> Mapping[str, Any]:
        """A stage's section as a read-only mapping (empty when the config has none)."""
        return self.raw.get(name, types.MappingProxyType({}))

    def section_as(self, name: str, cls: type[T]) -> T:
        """A stage's section as the frozen dataclass ``cls`` (nested dataclasses and tuples are built too)."""
        return from_mapping(cls, self.section(name), where=name)


# ------------------------------------------------------------------------------------------------------------- helpers
def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(v) for v in value]
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` over ``base``: mappings key by key (recursively), anything else replaced."""
    out = copy.deepcopy(_thaw(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(_thaw(value))
    return out


def from_mapping(cls: type[T], mapping: Mapping[str, Any], where: str = "") -> T:
    """Build the (frozen) dataclass ``cls`` from ``mapping``; nested dataclass fields and tuples are converted.

    Unknown keys and missing required fields raise ConfigError naming the key.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ConfigError(f"{where or cls.__name__}: unknown key(s) {', '.join(unknown)}")
    kwargs = {}
    for name, field in fields.items():
        key = f"{where}.{name}" if where else name
        if name not in mapping:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: required key is missing")
            continue
        kwargs[name] = _convert(hints[name], mapping[name], key)
    return cls(**kwargs)


def _convert(hint: Any, value: Any, key: str) -> Any:
    candidates = [a for a in typing.get_args(hint) if a is not type(None)] if _is_union(hint) else [hint]
    for cand in candidates:
        if dataclasses.is_dataclass(cand) and isinstance(value, Mapping):
            return from_mapping(cand, value, where=key)
        origin = typing.get_origin(cand)
        if (cand is tuple or origin is tuple) and isinstance(value, Sequence) and not isinstance(value, str):
            args = typing.get_args(cand)
            inner = args[0] if args else Any
            return tuple(_convert(inner, v, f"{key}[{i}]") for i, v in enumerate(value))
    return _freeze(value)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


# ---------------------------------------------------------------------------------------------------------- loading
def schema_path() -> Path:
    """workflow/schemas/config.schema.yaml of this checkout (or $SVCNET_CONFIG_SCHEMA)."""
    path = Path(os.environ.get(SCHEMA_ENV) or REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml")
    if not path.is_file():
        raise ConfigError(f"config schema not found: {path} (set {SCHEMA_ENV} to workflow/schemas/config.schema.yaml)")
    return path


@lru_cache(maxsize=4)
def _load_schema(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """One YAML mapping from ``path`` (ConfigError when missing or not a mapping)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(data).__name__}")
    return data


def _key_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(data: Mapping[str, Any], source: str = "config") -> None:
    """Validate ``data`` against the schema; ConfigError names the first offending key (deepest errors first)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(_load_schema(str(schema_path())))
    errors = sorted(
        validator.iter_errors(_thaw(data)), key=lambda e: (-len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        err = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {_key_path(err.absolute_path)}: {err.message}{more}")


def resolve(data: Mapping[str, Any], profile: str | None = None, source: str = "config") -> dict[str, Any]:
    """Validate, apply the profile (``profile`` argument, else ``data['profile']``) and validate the result.

    Returns a plain dict without ``profiles`` and with ``profile`` set to the profile applied.
    """
    validate(data, source)
    name = profile or data["profile"]
    profiles = data.get("profiles") or {}
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none defined"
        raise ConfigError(f"{source}: profile {name!r} is not defined under `profiles` (known: {known})")
    merged = deep_merge({k: v for k, v in data.items() if k != "profiles"}, profiles[name])
    merged["profile"] = name
    validate(merged, f"{source} with profile {name!r}")
    return merged


def load_raw(paths: str | os.PathLike | Sequence[str | os.PathLike] = DEFAULT_CONFIG) -> dict[str, Any]:
    """Read one or several YAML files, later ones merged over earlier ones (like Snakemake's --configfile)."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise ConfigError("no config file given")
    merged: dict[str, Any] = {}
    for path in paths:
        merged = deep_merge(merged, read_yaml(path))
    return merged


def build(resolved: Mapping[str, Any]) -> Config:
    """Frozen :class:`Config` from a resolved mapping (see :func:`resolve`)."""
    return Config(
        profile=resolved["profile"],
        data=from_mapping(DataConfig, resolved["data"], where="data"),
        pack=from_mapping(PackConfig, resolved["pack"], where="pack"),
        raw=_freeze(resolved),
    )


def load_config(
    paths: str | os.PathLike | Sequence[str | os.PathLike] = DEFAULT_CONFIG, profile: str | None = None
) -> Config:
    """Load, validate and resolve the config file(s); ``profile`` overrides the file's ``profile:``."""
    if not isinstance(paths, str | os.PathLike):
        paths = list(paths)
    source = ", ".join(map(str, paths)) if isinstance(paths, list) else str(paths)
    return build(resolve(load_raw(paths), profile, source))
