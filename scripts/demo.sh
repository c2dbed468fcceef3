#!/usr/bin/env bash
# Quick start, command 1: set up .venv and run the default pipeline (embedded demo, CPU, minutes).
# Extra arguments go to snakemake, e.g. `bash scripts/demo.sh -n` for a dry run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="$(cd "${SVCNET_VENV:-.venv}" && pwd)"
export PATH="$VENV/bin:$PATH"
snakemake --cores all --rerun-incomplete "$@"
echo "Done. Open reports/demo/index.html (the report of the demo profile)."
