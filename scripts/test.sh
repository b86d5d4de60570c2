#!/usr/bin/env bash
# All tests: set up; check that nbdev-clean and nbdev-export change nothing tracked; test the library
# notebooks with nbdev-test; run every chapter once with papermill (profile ci, executed copies under
# runs/); then pytest on tests/. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== nbdev-clean / nbdev-export leave the tree unchanged"
before=$(git status --porcelain -- nbs crossfit_nb)
nbdev-clean
nbdev-export
after=$(git status --porcelain -- nbs crossfit_nb)
if [ "$before" != "$after" ]; then
  echo "nbdev-clean or nbdev-export changed files: clean and export the notebooks, then commit" >&2
  git status --porcelain -- nbs crossfit_nb >&2
  git diff --stat -- nbs crossfit_nb >&2
  exit 1
fi

echo "== README.md is generated from nbs/index.ipynb and up to date"
bash scripts/readme.sh
if ! git diff --quiet -- README.md; then
  echo "README.md is stale: run bash scripts/readme.sh and commit it" >&2
  git diff --stat -- README.md >&2
  exit 1
fi

echo "== nbdev-test (library notebooks; chapters run once, below, through papermill)"
chapters=$(python -c "from crossfit_nb.core import CHAPTERS; print('|'.join(CHAPTERS))")
nbdev-test --skip-file-re "^([_.]|(${chapters})\.ipynb$)"

echo "== papermill: chapters with the ci profile"
crossfit-nb run --profile ci

echo "== pytest"
python -m pytest tests -q --durations=20
