"""Every section reference in the repository resolves to a section of a file in docs/.

A reference is ``docs/<file>.md`` followed on the same line by one or more section signs with numbers
(``N.M``, ranges ``N.M–N.K``, optionally ``step K`` / ``steps K–L`` for a numbered step of that section). Inside
docs/ a reference without a file names the file it is in. A section sign with a number and no file before it
anywhere else is an error: the reader would not know where to look.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SIGN = "\u00a7"  # written as an escape so that this file's own examples are not references

SCANNED_DIRS = ("svcnet", "tests", "bench", "workflow", "config", "datasets", "docs", "scripts", ".ci")
SCANNED_FILES = ("README.md", "CONTRIBUTING.md", "Snakefile", "dvc.yaml", "pyproject.toml", "metrics/README.md")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".smk", ".sh", ".toml", ".txt", ".cfg", ".ini", ""}

HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s")
STEP = re.compile(r"^(\d+)\.\s")
NUM = r"\d+(?:\.\d+)*"
DOC_PATH = re.compile(r"docs/[\w./-]+\.md")
REFERENCE = re.compile(
    SIGN + rf"\s?(?P<first>{NUM})(?:\s?[–-]\s?(?P<last>{NUM}))?(?:\s+steps?\s+(?P<s1>\d+)(?:\s?[–-]\s?(?P<s2>\d+))?)?"
)


def sections(doc: Path) -> dict[str, set[int]]:
    """Section number → the numbers of the numbered steps (``1. …`` list items) in its body."""
    found: dict[str, set[int]] = {}
    current = None
    for line in doc.read_text(encoding="utf-8").splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading.group(1)
            if current in found:
                raise AssertionError(f"{doc.name}: section {current} appears twice")
            found[current] = set()
        elif current is not None and (step := STEP.match(line)):
            found[current].add(int(step.group(1)))
    return found


def _steps(first: str | None, last: str | None) -> list[int]:
    if first is None:
        return []
    return list(range(int(first), int(last or first) + 1))


def check_line(line: str, home: str | None, known: dict[str, dict[str, set[int]]]) -> list[str]:
    """Problems of the references on one line; ``home`` is the docs file the line is in (or None)."""
    problems = []
    docs_at = [(m.start(), m.group(0)) for m in DOC_PATH.finditer(line)]
    for ref in REFERENCE.finditer(line):
        before = [doc for pos, doc in docs_at if pos < ref.start()]
        doc = before[-1] if before else home
        text = ref.group(0)
        if doc is None:
            problems.append(f"{text!r} names no docs/ file")
            continue
        if doc not in known:
            problems.append(f"{text!r}: {doc} does not exist")
            continue
        for number in filter(None, (ref.group("first"), ref.group("last"))):
            if number not in known[doc]:
                problems.append(f"{text!r}: {doc} has no section {number}")
            elif missing := [s for s in _steps(ref.group("s1"), ref.group("s2")) if s not in known[doc][number]]:
                problems.append(f"{text!r}: section {number} of {doc} has no step {missing[0]}")
    return problems


def scanned_files() -> list[Path]:
    files = [REPO / f for f in SCANNED_FILES if (REPO / f).is_file()]
    for folder in SCANNED_DIRS:
        for path in sorted((REPO / folder).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                files.append(path)
    return files


def all_problems() -> tuple[list[str], int]:
    known = {f"docs/{p.name}": sections(p) for p in DOCS.glob("*.md")}
    problems, count = [], 0
    for path in scanned_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(REPO).as_posix()
        home = rel if rel.startswith("docs/") else None
        for number, line in enumerate(text.splitlines(), 1):
            count += len(REFERENCE.findall(line))
            problems += [f"{rel}:{number}: {p}" for p in check_line(line, home, known)]
    return problems, count


def test_every_section_reference_in_the_repository_resolves():
    problems, count = all_problems()
    assert problems == []
    assert count >= 40  # the code cites docs/official.md about 50 times: a scanner that finds nothing is broken


def test_the_check_reports_a_missing_document_section_or_step():
    known = {"docs/official.md": {"1.2": {1, 2, 3}, "3.1": set(), "3.3": set()}}
    ok = [
        f"(docs/official.md {SIGN}1.2 steps 2–3)",
        f"docs/official.md {SIGN}3.1–3.3, {SIGN}1.2",
        f"docs/official.md {SIGN}1.2 step 1",
    ]
    assert [check_line(line, None, known) for line in ok] == [[], [], []]
    assert check_line(f"see {SIGN}1.2", "docs/official.md", known) == []
    assert check_line(f"spec {SIGN}1.2", None, known) == [f"'{SIGN}1.2' names no docs/ file"]
    assert check_line(f"docs/other.md {SIGN}1.2", None, known) == [f"'{SIGN}1.2': docs/other.md does not exist"]
    assert check_line(f"docs/official.md {SIGN}3.1–3.4", None, known) == [
        f"'{SIGN}3.1–3.4': docs/official.md has no section 3.4"
    ]
    assert check_line(f"docs/official.md {SIGN}1.2 step 4", None, known) == [
        f"'{SIGN}1.2 step 4': section 1.2 of docs/official.md has no step 4"
    ]


def test_sections_are_read_from_headings_with_their_numbered_steps(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("# Title\n## 1. One\ntext 2. not a step\n### 1.2 Sub\n1. a\n2. b\n## 2. Two\n", encoding="utf-8")
    assert sections(doc) == {"1": set(), "1.2": {1, 2}, "2": set()}
