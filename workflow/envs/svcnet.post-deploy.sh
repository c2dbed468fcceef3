#!/usr/bin/env bash
# Runs once inside the new conda environment of workflow/envs/svcnet.yaml: install svcnet from this checkout.
set -euo pipefail
python -m pip install --quiet "setuptools>=77" wheel
python -m pip install --quiet -e "$(cd "$(dirname "$0")/../.." && pwd)"
