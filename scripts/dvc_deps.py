"""The svcnet code each dvc.yaml stage runs, and whether the stage's `deps:` cover it.

A stage runs `svcnet <command> ...`; the command's module (found through the CLI's own registry) and every svcnet
module it imports, directly or through other svcnet modules, make up the stage's code: imports at module level and
inside functions (the CLI imports lazily), relative imports, and svcnet module names written as strings (lazy export
tables such as ``svcnet/infer/__init__.py``). Importing a module runs its packages' ``__init__.py`` too, so those
count, empty ones aside. Not followed: the CLI's discovery of its other ``cmd_*`` modules (they only register their
commands).

    python scripts/dvc_deps.py            # per stage: the code it runs, as files, and what its deps miss
    python scripts/dvc_deps.py --check    # exit 1 when a stage's deps miss code it runs or list code it does not run
    python scripts/dvc_deps.py --write    # rewrite the code entries of every stage's deps in dvc.yaml to what it runs
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "svcnet"
# Files other than Python modules that a module reads at run time (repository-relative), so a stage running the module
# depends on them too: the source registry (URLs and hashes of datasets and weights).
DATA_FILES = {"svcnet/sources.py": ("datasets/sources.yaml",)}


# ----------------------------------------------------------------------------------------------------- import closure
def module_file(root: Path, name: str) -> Path | None:
    """The source file of module ``name`` (``a/b.py`` or ``a/b/__init__.py``) under ``root``, or None."""
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _from_module(package: str, node: ast.ImportFrom) -> str:
    """The absolute module of ``from X import ...`` written in ``package`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def imported_names(root: Path, name: str) -> set[str]:
    """svcnet modules that module ``name`` imports anywhere in its source (functions included)."""
    path = module_file(root, name)
    assert path is not None, name
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _from_module(package, node)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(f"{PACKAGE}."):
            found.add(node.value)  # a module imported by name (import_module tables)
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(root, m) is not None}


def with_packages(name: str) -> list[str]:
    """``name`` and the packages above it (``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``): importing it runs them all."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(root: Path, start: Iterable[str]) -> set[str]:
    """Every svcnet module that importing ``start`` can run, lazy imports included."""
    seen: set[str] = set()
    todo = [p for name in start for p in with_packages(name)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(p for m in imported_names(root, name) for p in with_packages(m))
    return seen


def code_files(root: Path, start: Iterable[str]) -> set[str]:
    """Repository-relative files (modules and the data files they read) that importing ``start`` runs. Empty files
    (bare package ``__init__.py``) run nothing, and DVC warns about empty deps: left out until they hold code."""
    paths = [module_file(root, name) for name in closure(root, start)]
    files = {p.relative_to(root).as_posix() for p in paths if p.stat().st_size}
    return files | {data for f in files for data in DATA_FILES.get(f, ())}


# ----------------------------------------------------------------------------------------------------------- commands
def command_modules() -> dict[str, str]:
    """``svcnet`` subcommand -> the module that defines it, from the CLI's registry (command groups included)."""
    sys.path.insert(0, str(REPO))
    from svcnet.cli import app

    out = {}
    for cmd in app.registered_commands:
        out[cmd.name or cmd.callback.__name__.replace("_", "-")] = cmd.callback.__module__
    for group in app.registered_groups:
        callbacks = [c.callback for c in group.typer_instance.registered_commands]
        out[group.name] = callbacks[0].__module__
    return out


def stage_command(cmd: str) -> str:
    """The ``svcnet`` subcommand a stage's ``cmd`` runs (ValueError when it runs anything else)."""
    words = shlex.split(cmd)
    if len(words) < 2 or words[0] != "svcnet":
        raise ValueError(f"not a `svcnet <command>` line: {cmd!r}")
    return words[1]


# ------------------------------------------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class Stage:
    """One expanded dvc.yaml stage (foreach items apart): its command and its file dependencies."""

    name: str
    cmd: str
    deps: tuple[str, ...]


def load_stages(root: Path) -> list[Stage]:
    """dvc.yaml's stages as DVC itself expands them (vars, foreach, interpolation)."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return [
            Stage(
                s.name,
                s.cmd if isinstance(s.cmd, str) else " ".join(s.cmd),
                tuple(d.def_path for d in s.deps if not isinstance(d, ParamsDependency)),
            )
            for s in repo.index.stages
        ]


def covers(dep: str, path: str) -> bool:
    """A dependency on ``dep`` (file or folder) covers ``path``."""
    dep = dep.rstrip("/")
    return path == dep or path.startswith(dep + "/")


def is_code(dep: str) -> bool:
    """A dependency on svcnet's code or on a file svcnet's code reads."""
    data = {d for files in DATA_FILES.values() for d in files}
    return covers(PACKAGE, dep) or dep in data


@dataclass(frozen=True)
class Coverage:
    """A stage's code: what it runs, what its deps miss, and code deps that cover nothing it runs."""

    stage: str
    needed: tuple[str, ...]
    missing: tuple[str, ...]
    unused: tuple[str, ...]


def coverage(root: Path, stage: Stage, modules: dict[str, str]) -> Coverage:
    command = stage_command(stage.cmd)
    if command not in modules:
        raise ValueError(f"stage {stage.name}: `svcnet {command}` is not a svcnet command")
    needed = sorted(code_files(root, [modules[command]]))
    code_deps = [d for d in stage.deps if is_code(d)]
    missing = [f for f in needed if not any(covers(d, f) for d in code_deps)]
    unused = [d for d in code_deps if not any(covers(d, f) for f in needed)]
    return Coverage(stage.name, tuple(needed), tuple(missing), tuple(unused))


def package_files(folder: Path) -> set[Path]:
    """The source files of a package folder (compiled caches and empty files aside)."""
    return {p for p in folder.rglob("*") if p.is_file() and p.stat().st_size and "__pycache__" not in p.parts}


def folded(root: Path, files: Iterable[str]) -> list[str]:
    """``files`` with every package folder whose files are all among them written as the folder (a shorter deps list
    that covers the same files)."""
    files = set(files)
    folders = sorted({Path(f).parent for f in files if covers(PACKAGE, f)}, key=lambda p: -len(p.parts))
    out = set(files)
    for folder in folders:
        rel = {p.relative_to(root).as_posix() for p in package_files(root / folder)}
        if folder.as_posix() != PACKAGE and rel <= files:
            out = {f for f in out if not covers(folder.as_posix(), f)} | {folder.as_posix()}
    return sorted(out)


def check(root: Path = REPO) -> list[Coverage]:
    modules = command_modules()
    return [coverage(root, stage, modules) for stage in load_stages(root)]


def report(results: list[Coverage], verbose: bool) -> str:
    lines = []
    for res in results:
        if verbose or res.missing or res.unused:
            lines.append(f"{res.stage}:")
        if verbose:
            lines += [f"  runs {f}" for f in folded(REPO, res.needed)]
        lines += [f"  MISSING from deps: {f}" for f in res.missing]
        lines += [f"  NOT RUN, remove from deps: {d}" for d in res.unused]
    return "\n".join(lines)


def rewrite_deps(text: str, code: dict[str, list[str]]) -> str:
    """dvc.yaml ``text`` with the code entries of each stage's ``deps:`` list replaced by ``code[stage]`` (stage names
    without their foreach item); other entries, comments and layout are kept."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    stage = None
    i = 0
    while i < len(lines):
        line = lines[i]
        head = re.match(r"^  ([A-Za-z_][\w-]*):\s*$", line)
        if head:
            stage = head.group(1)
        deps = re.match(r"^(\s+)deps:\s*$", line)
        if not (deps and stage in code):
            out.append(line)
            i += 1
            continue
        out.append(line)
        i += 1
        item = re.compile(rf"^{deps.group(1)}  - (\S+)\s*$")
        kept = []
        while i < len(lines) and item.match(lines[i]):
            if not is_code(item.match(lines[i]).group(1)):
                kept.append(lines[i])
            i += 1
        out += kept + [f"{deps.group(1)}  - {f}\n" for f in code[stage]]
    return "".join(out)


def write(root: Path = REPO) -> None:
    """Rewrite dvc.yaml so every stage's code deps are exactly the (folded) code it runs."""
    code: dict[str, list[str]] = {}
    for res in check(root):
        files = folded(root, res.needed)
        name = res.stage.split("@")[0]
        if code.setdefault(name, files) != files:
            raise ValueError(f"the foreach items of stage {name} run different code")
    path = root / "dvc.yaml"
    path.write_text(rewrite_deps(path.read_text(), code))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report problems; exit 1 when there are any")
    parser.add_argument("--write", action="store_true", help="rewrite the code deps of dvc.yaml's stages in place")
    args = parser.parse_args(argv)
    if args.write:
        write()
    results = check()
    text = report(results, verbose=not args.check)
    if text:
        print(text)
    return 1 if args.check and any(r.missing or r.unused for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
