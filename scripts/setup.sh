#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine with Python 3.11:
# Debian packages (ffmpeg for the thesis' reference splitter, chromium for browser tests, poppler-utils to read the
# rendered PDF),
# a virtual environment in .venv with the pinned dependencies, and this package (editable).
# Safe to re-run: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES="ffmpeg chromium poppler-utils"
missing=""
for pkg in $DEBIAN_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: warning: no apt-get; install these yourself:$missing" >&2
  fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.crossfit-nb-installed
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python dependencies into .venv (pinned in requirements.lock)"
  quiet() { grep -v -e '^WARNING: Location' -e 'BuildBackendWarning' || true; }   # drop index noise, keep errors
  { .venv/bin/python -m pip install -q --upgrade pip 2>&1; } | quiet
  { .venv/bin/python -m pip install -q -r requirements.lock 2>&1; } | quiet
  { .venv/bin/python -m pip install -q --no-deps -e . 2>&1; } | quiet
  touch "$stamp"
fi
# BlazePose's two model files, out of the mediapipe wheel that ships them (downloaded without its dependencies,
# which conflict with TensorFlow), each checked against its pinned SHA-256; kept in ~/.cache/crossfit-nb/blazepose.
.venv/bin/crossfit-nb fetch-pose

# Quarto renders the memoria and the slides: the one on the PATH, else one installed into .venv (.venv/bin/quarto):
# with ../shared/quarto (our machines and CI: Quarto's core bundle, the tools from the registries), else from PyPI
# (quarto-cli, which downloads Quarto's release from GitHub: a machine online).
if ! command -v quarto >/dev/null 2>&1 && [ ! -x .venv/bin/quarto ]; then
  if [ -f ../shared/quarto/install.sh ]; then
    if ! command -v npm >/dev/null 2>&1; then
      SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    bash ../shared/quarto/install.sh "$PWD/.venv/quarto"
    printf '#!/bin/sh\nexec "$(dirname "$0")/../quarto/bin/quarto" "$@"\n' > .venv/bin/quarto
    chmod +x .venv/bin/quarto
  else
    echo "setup: installing Quarto from PyPI (quarto-cli)"
    .venv/bin/python -m pip install -q quarto-cli
  fi
fi
