"""Registry of the datasets and weight files SVCNet needs (``datasets/sources.yaml``), checked against a JSON schema
when loaded; locating and verifying weight files (:func:`resolve_weight`); fetching a source (:func:`fetch_source`).

The registry file is found through ``$SVCNET_SOURCES``, else ``datasets/sources.yaml`` of the repository next to the
package, else the copy packaged into an installed wheel (``svcnet/resources/sources.yaml``, a link to the same file).
Names are matched case-insensitively with ``-`` and ``_`` equivalent (``davis2017-trainval-480p`` works).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from svcnet.errors import CheckpointError, ChecksumError, SvcnetError

log = logging.getLogger(__name__)

SOURCES_ENV = "SVCNET_SOURCES"
WEIGHTS_ENV = "SVCNET_WEIGHTS"
REPO_SOURCES = Path(__file__).resolve().parents[1] / "datasets" / "sources.yaml"
ACCESS = ("direct", "share_page", "login", "code")
KINDS = ("weights", "dataset")
ARCHIVE_FORMATS = ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz")

_REL_PATH = r"^(?!/)(?!.*(^|/)\.\.(/|$))[^\\\x00]+$"
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "sources"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "sources": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {"$ref": "#/$defs/source"},
        },
    },
    "$defs": {
        "source": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "title", "file", "urls", "sha256", "size", "licence", "access", "dest", "used_for"],
            "properties": {
                "kind": {"enum": list(KINDS)},
                "title": {"type": "string", "minLength": 1},
                "file": {"type": "string", "pattern": r"^[^/\\\x00]+$"},
                "urls": {"type": "array", "items": {"type": "string", "pattern": "^https?://"}},
                "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
                "sha256_prefix": {"type": ["string", "null"], "pattern": "^[0-9a-f]{8,64}$"},
                "size": {"type": ["integer", "null"], "minimum": 1},
                "licence": {"type": "string", "minLength": 1},
                "access": {"enum": list(ACCESS)},
                "dest": {"type": "string", "pattern": _REL_PATH},
                "unpack": {
                    "type": ["object", "null"],
                    "additionalProperties": False,
                    "required": ["format", "into"],
                    "properties": {
                        "format": {"enum": list(ARCHIVE_FORMATS)},
                        "into": {"type": "string", "pattern": _REL_PATH},
                        "folder": {"type": ["string", "null"], "pattern": r"^[^/\\\x00]+$"},
                    },
                },
                "from_archive": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["source", "member"],
                    "properties": {
                        "source": {"type": "string"},
                        "member": {"type": "string", "pattern": _REL_PATH},
                    },
                },
                "official_path": {"type": "string"},
                "used_for": {"type": "string", "minLength": 1},
                "manual": {"type": "string", "minLength": 40, "pattern": r"\{dest\}"},
                "notes": {"type": "string"},
            },
            "allOf": [
                {  # anything not plainly downloadable must say exactly what to do by hand
                    "if": {"properties": {"access": {"enum": [a for a in ACCESS if a != "direct"]}}},
                    "then": {"required": ["manual"]},
                },
                {  # a direct source has a URL or comes out of another source's archive
                    "if": {"properties": {"access": {"const": "direct"}}},
                    "then": {
                        "anyOf": [
                            {"properties": {"urls": {"minItems": 1}}},
                            {"required": ["from_archive"]},
                        ]
                    },
                },
                {  # weights live directly under weights/ (resolve_weight looks there)
                    "if": {"properties": {"kind": {"const": "weights"}}},
                    "then": {"properties": {"dest": {"pattern": r"^weights/[^/]+$"}}},
                },
            ],
        }
    },
}


# ------------------------------------------------------------------------------------------------------------ model
@dataclasses.dataclass(frozen=True)
class Unpack:
    """How an archive source is unpacked: its format, the folder it is extracted into, the top folder expected."""

    format: str
    into: str
    folder: str | None = None


@dataclasses.dataclass(frozen=True)
class ArchiveMember:
    """A file taken out of another source's unpacked archive (path suffix ``member`` under its ``unpack.into``)."""

    source: str
    member: str


@dataclasses.dataclass(frozen=True)
class Source:
    """One registry entry: where a dataset or weight file comes from, how to check it, and where it goes."""

    name: str
    kind: str
    title: str
    file: str
    urls: tuple[str, ...]
    sha256: str | None
    size: int | None
    licence: str
    access: str
    dest: str
    used_for: str
    sha256_prefix: str | None = None
    unpack: Unpack | None = None
    from_archive: ArchiveMember | None = None
    official_path: str | None = None
    manual: str | None = None
    notes: str | None = None

    @property
    def url(self) -> str | None:
        """The first URL (None for files taken out of another source's archive)."""
        return self.urls[0] if self.urls else None

    @property
    def checksum_text(self) -> str:
        """The expected sha256 as shown to users."""
        if self.sha256:
            return f"sha256 {self.sha256}"
        if self.sha256_prefix:
            return f"sha256 starting {self.sha256_prefix}"
        return "no published sha256"

    def dest_path(self, root: str | os.PathLike = ".") -> Path:
        """Where the file goes under ``root``."""
        return Path(root) / self.dest

    def unpack_path(self, root: str | os.PathLike = ".") -> Path | None:
        """The folder an archive source is unpacked into under ``root`` (None for plain files)."""
        return Path(root) / self.unpack.into if self.unpack else None

    def manual_step(self, root: str | os.PathLike = ".", dest: Path | None = None) -> str:
        """The manual instructions with the actual paths filled in (empty for direct sources)."""
        if not self.manual:
            return ""
        target = dest if dest is not None else self.dest_path(root)
        into = self.unpack_path(root)
        return self.manual.replace("{dest}", str(target)).replace("{into}", str(into or ""))

    def how_to_get(self, path: Path | None = None, root: str | os.PathLike = ".") -> str:
        """One line: how to obtain this file and where to put it."""
        target = path if path is not None else self.dest_path(root)
        if self.access != "direct":
            return " ".join(self.manual_step(root, dest=target).split())
        if self.url:
            return f"run `svcnet fetch {self.name}`, or download {self.url} and save it as {target}"
        return (
            f"run `svcnet fetch {self.name}` (it takes {self.from_archive.member} out of the "
            f"{self.from_archive.source} archive), or put that file at {target}"
        )


# --------------------------------------------------------------------------------------------------------- loading
class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise SvcnetError(f"duplicate key {key!r} in the source registry (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def registry_path() -> Path:
    """The registry file in use: $SVCNET_SOURCES, the repository's datasets/sources.yaml, or the packaged copy."""
    env = os.environ.get(SOURCES_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise SvcnetError(f"{SOURCES_ENV}={env} does not name a file")
        return path
    if REPO_SOURCES.is_file():
        return REPO_SOURCES
    packaged = resources.files("svcnet") / "resources" / "sources.yaml"
    if packaged.is_file():
        return Path(str(packaged))
    raise SvcnetError(f"source registry not found: set {SOURCES_ENV} or provide {REPO_SOURCES}")


def parse_registry(data: Any, origin: str = "(in memory)") -> dict[str, Source]:
    """Validate parsed registry data (schema + cross-entry rules) and return name -> Source."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    err = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise SvcnetError(f"invalid source registry {origin}: at {where}: {err.message}")
    out: dict[str, Source] = {}
    for name, entry in data["sources"].items():
        fields = dict(entry)
        fields["urls"] = tuple(fields["urls"])
        if fields.get("unpack"):
            fields["unpack"] = Unpack(**fields["unpack"])
        if fields.get("from_archive"):
            fields["from_archive"] = ArchiveMember(**fields["from_archive"])
        out[name] = Source(name=name, **fields)
    _check_consistency(out, origin)
    return out


def _check_consistency(sources: Mapping[str, Source], origin: str) -> None:
    def bad(name: str, what: str) -> SvcnetError:
        return SvcnetError(f"invalid source registry {origin}: {name}: {what}")

    dests: dict[str, str] = {}
    for s in sources.values():
        if PurePosixPath(s.dest).name != s.file:
            raise bad(s.name, f"dest {s.dest} does not end in the file name {s.file}")
        if s.sha256 and s.sha256_prefix and not s.sha256.startswith(s.sha256_prefix):
            raise bad(s.name, "sha256 does not start with sha256_prefix")
        if s.dest in dests:
            raise bad(s.name, f"dest {s.dest} is also the dest of {dests[s.dest]}")
        dests[s.dest] = s.name
        if s.from_archive:
            parent = sources.get(s.from_archive.source)
            if parent is None or parent.unpack is None:
                raise bad(s.name, f"from_archive names {s.from_archive.source!r}, which is not an archive source")
        if s.manual and "{into}" in s.manual and s.unpack is None:
            raise bad(s.name, "manual mentions {into} but the source is not an archive")


def load_registry(path: str | os.PathLike | None = None) -> dict[str, Source]:
    """Read and validate a registry file (default: :func:`registry_path`); name -> Source."""
    path = Path(path) if path is not None else registry_path()
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> dict[str, Source]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise SvcnetError(f"source registry {path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    return parse_registry(data, origin=path)


def normalise_name(name: str) -> str:
    """Registry names are lower case with underscores; accept dashes and capitals."""
    return name.strip().lower().replace("-", "_")


def get_source(name: str) -> Source:
    """The registry entry ``name``; an unknown name raises SvcnetError listing the valid ones."""
    sources = load_registry()
    key = normalise_name(name)
    if key not in sources:
        raise SvcnetError(f"unknown source {name!r}; known sources: {', '.join(sorted(sources))}")
    return sources[key]


REGISTRY_PREFIX = "registry:"


def registry_ref(value: object) -> str | None:
    """The registry name of a config value ``registry:<name>`` (normalised), else None."""
    if isinstance(value, str) and value.startswith(REGISTRY_PREFIX):
        return normalise_name(value[len(REGISTRY_PREFIX) :])
    return None


def registry_place(source: Source, fetch_root: str | os.PathLike = ".") -> Path:
    """Where ``svcnet fetch`` puts ``source`` under ``fetch_root``: ``unpack.into[/unpack.folder]`` for archives,
    ``dest`` for files."""
    if source.unpack is None:
        return source.dest_path(fetch_root)
    into = source.unpack_path(fetch_root)
    return into / source.unpack.folder if source.unpack.folder else into


def resolve_registry_path(value: str | os.PathLike, fetch_root: str | os.PathLike = ".") -> Path:
    """A configured folder or file: ``registry:<name>`` is the place ``svcnet fetch <name>`` puts that entry under
    ``fetch_root`` (see :func:`registry_place`); any other value is a path, returned as given."""
    name = registry_ref(value)
    if name is None:
        return Path(value)
    if not name:
        raise SvcnetError(f"{value!r}: name a registry entry after `{REGISTRY_PREFIX}` (see `svcnet fetch --list`)")
    return registry_place(get_source(name), fetch_root)


# ------------------------------------------------------------------------------------------------------ checksums
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (cached per path, size and mtime within this process)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(chunk_size):
                digest.update(block)
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def verify_file(source: Source, path: str | os.PathLike) -> str | None:
    """Check ``path`` against the source's sha256 (or prefix) and size; return its sha256 when one was computed."""
    path = Path(path)
    got_size = path.stat().st_size
    size_note = f" ({got_size} bytes, expected {source.size})" if source.size not in (None, got_size) else ""
    actual = None
    if source.sha256 or source.sha256_prefix:
        actual = sha256_file(path)
        expected = source.sha256 or source.sha256_prefix
        if not actual.startswith(expected):
            raise ChecksumError(
                f"{path} has sha256 {actual}, expected {expected} for {source.name} ({source.file}){size_note}; "
                f"remove it. To get the right file: {source.how_to_get(path)}"
            )
    if size_note:
        raise ChecksumError(
            f"{path} has {got_size} bytes, expected {source.size} for {source.name} ({source.file}); "
            f"remove it. To get the right file: {source.how_to_get(path)}"
        )
    return actual


def default_weights_dir() -> Path:
    """$SVCNET_WEIGHTS, else ./weights."""
    return Path(os.environ.get(WEIGHTS_ENV) or "weights")


def resolve_weight(name: str, weights_dir: Path | None = None, path: Path | None = None, verify: bool = True) -> Path:
    """The verified weight file of source ``name``: ``path`` if given, else ``weights_dir/<file>``.

    Missing → CheckpointError naming the file, its sha256 (if published), how to get it and where to put it;
    a sha256 mismatch → ChecksumError naming both hashes.
    """
    source = get_source(name)
    if source.kind != "weights":
        raise SvcnetError(f"{source.name} is a {source.kind} source, not a weight file")
    if path is not None:
        target = Path(path)
    else:
        target = Path(weights_dir if weights_dir is not None else default_weights_dir()) / source.file
    if not target.is_file():
        raise CheckpointError(
            f"missing weights {source.name}: expected {source.file} ({source.checksum_text}) at {target.absolute()}. "
            f"To get it: {source.how_to_get(target.absolute())}"
        )
    if verify:
        verify_file(source, target)
    return target


# ------------------------------------------------------------------------------------------------------- fetching
@dataclasses.dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_source` did: status is downloaded | present | manual; path is the file or folder."""

    name: str
    status: str
    path: Path
    detail: str = ""


def fetch_source(
    name: str,
    root: str | os.PathLike = ".",
    timeout: float = 60.0,
    verify: bool = True,
    delete_archive: bool = False,
    progress: bool | None = None,
) -> FetchResult:
    """Bring source ``name`` into place under ``root``: download direct files (verified), unpack archives safely,
    take files out of another source's archive; for manual sources check a file already put in place.

    Returns status ``manual`` (with the instructions in ``detail``) when a manual source is not there yet.
    """
    from svcnet.data.archive import safe_extract
    from svcnet.data.download import dir_lock, download

    source = get_source(name)
    root = Path(root)
    dest = source.dest_path(root)
    into = source.unpack_path(root)

    if into is not None and into.is_dir():  # unpacked folders are renamed into place only when complete
        return FetchResult(source.name, "present", into, f"already unpacked at {into}")

    if source.from_archive is not None and not dest.is_file():
        return _take_from_archive(source, root, timeout, verify, delete_archive, progress)

    if dest.is_file():
        status, detail = "present", f"already at {dest}"
        if verify:
            digest = verify_file(source, dest)
            detail += f" (sha256 {digest} verified)" if digest else " (no published sha256; not verified)"
    elif source.access == "direct":
        download(
            list(source.urls),
            dest,
            sha256=(source.sha256 or source.sha256_prefix) if verify else None,
            size=source.size if verify else None,
            timeout=timeout,
            progress=progress,
        )
        status, detail = "downloaded", f"downloaded to {dest}"
    else:
        return FetchResult(source.name, "manual", dest, source.manual_step(root))

    if into is not None:
        into.parent.mkdir(parents=True, exist_ok=True)
        with dir_lock(into.parent):  # a concurrent fetch of the same source unpacks once
            if into.is_dir():
                return FetchResult(source.name, status, into, f"{detail}; already unpacked at {into}")
            safe_extract(dest, into)
        _report_layout(source, into)
        detail += f"; unpacked into {into}"
        if delete_archive:
            dest.unlink()
        return FetchResult(source.name, status, into, detail)
    return FetchResult(source.name, status, dest, detail)


def _take_from_archive(
    source: Source, root: Path, timeout: float, verify: bool, delete_archive: bool, progress: bool | None
) -> FetchResult:
    from svcnet.data.atomic import atomic_path

    parent = get_source(source.from_archive.source)
    result = fetch_source(parent.name, root, timeout, verify, delete_archive, progress)
    if result.status == "manual":
        return FetchResult(source.name, "manual", source.dest_path(root), result.detail)
    folder = parent.unpack_path(root)
    member = PurePosixPath(source.from_archive.member)
    matches = sorted(
        p
        for p in folder.rglob(member.name)
        if p.is_file() and PurePosixPath(p.relative_to(folder).as_posix()).parts[-len(member.parts) :] == member.parts
    )
    if not matches:
        raise SvcnetError(
            f"{member} not found in {folder} (unpacked {parent.name}); the archive layout differs from the registry"
        )
    if len(matches) > 1:
        raise SvcnetError(f"{member} is ambiguous in {folder}: {', '.join(str(m) for m in matches)}")
    dest = source.dest_path(root)
    with atomic_path(dest) as tmp:
        shutil.copyfile(matches[0], tmp)
        if verify:
            verify_file(source, tmp)
    return FetchResult(source.name, "downloaded", dest, f"taken from {matches[0]} to {dest}")


def _report_layout(source: Source, into: Path) -> None:
    if source.unpack and source.unpack.folder and not (into / source.unpack.folder).is_dir():
        top = sorted(p.name for p in into.iterdir())[:10]
        log.warning("%s: expected folder %s in %s, found %s", source.name, source.unpack.folder, into, top)


def format_size(size: int | None) -> str:
    """Human-readable byte count ('?' when unknown)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
