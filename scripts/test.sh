#!/usr/bin/env bash
# Quick start, command 2: set up .venv and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="$(cd "${SVCNET_VENV:-.venv}" && pwd)"
export PATH="$VENV/bin:$PATH"
# The report test renders the HTML report in headless Chromium; install it when we may (root + apt), else it skips.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    && [ -z "${SVCNET_NO_APT:-}" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
        || echo "note: could not install chromium; the browser test will be skipped" >&2
fi
# The SLURM test (tests/test_scaleout.py) runs a one-node cluster from Debian's packages; install them when we may.
if ! command -v slurmctld >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    && [ -z "${SVCNET_NO_APT:-}" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge) >/dev/null 2>&1 \
        || echo "note: could not install SLURM; the SLURM test will be skipped" >&2
fi
# The suite needs ~10 GB of temporary disk at its peak besides .venv (the paper-profile tests' checkpoints are ~1 GB
# each); say what there is.
echo "temporary disk: $(df -h "${TMPDIR:-/tmp}" | awk 'NR==2 {print $4 " free on " $6}')" >&2
# Lint and format first (ruff, configured in pyproject.toml): a violation fails the run before any test.
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# Two pytest-xdist workers, each test file on one worker (its module fixtures stay together): the DAG tests leave a
# core idle much of the time (one job at a time loading torch), so the other worker fills it. Files are handed out in
# collection order, the whole-pipeline files first (tests/conftest.py), not xdist's default of most tests first.
exec "$VENV/bin/python" -m pytest -n "${SVCNET_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
