#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine with Python 3.11:
# Debian packages (ffmpeg for the thesis' reference splitter, chromium for browser tests),
# a virtual environment in .venv with the pinned dependencies, and this package (editable).
# Safe to re-run: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES="ffmpeg chromium"
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
