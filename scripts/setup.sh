#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv with svcnet and its dependencies.
# Re-running is cheap: pip is skipped when pyproject.toml has not changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${SVCNET_VENV:-.venv}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)'; then
    echo "svcnet needs Python 3.11 or 3.12 (found: $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.svcnet-installed"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip "setuptools>=77" wheel
    "$VENV/bin/python" -m pip install --quiet -e ".[dev,studio]"
    echo "$want" > "$stamp"
fi
