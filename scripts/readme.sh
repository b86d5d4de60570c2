#!/usr/bin/env bash
# README.md is generated from nbs/index.ipynb (executed, rendered to Markdown).
# nbdev-readme does the same through Quarto; this works without Quarto.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/jupyter nbconvert --to markdown --execute --log-level=ERROR nbs/index.ipynb --output README --output-dir . 
