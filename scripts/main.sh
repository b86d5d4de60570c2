#!/usr/bin/env bash
# The main job: set up, then run every chapter that exists, in order, on the embedded synthetic
# data (profile `ci` by default; `bash scripts/main.sh thesis` for the full-scale run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/crossfit-nb run --profile "${1:-ci}"
