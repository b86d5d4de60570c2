#!/usr/bin/env bash
# The main job: set up, then run every chapter that exists, in order, on the embedded synthetic
# data (profile `demo` by default: a model that learns, in 25 to 55 minutes on 2 cores, depending on the CPU; `bash scripts/main.sh ci` for the fast smoke run, `bash scripts/main.sh thesis` for the full-scale run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/crossfit-nb run --profile "${1:-demo}"
