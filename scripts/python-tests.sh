#!/usr/bin/env bash
# Runs the official-OpenAI-Python-SDK compatibility tests (tests/python) against the rampart
# binary: $RAMPART_BIN, else target/debug/rampart (build it first: cargo build -p rampart).
# Uses a virtual environment at .venv (created on first use); installs only PyPI packages.
# Extra arguments go to pytest, e.g. scripts/python-tests.sh -k stream -v
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

bin="${RAMPART_BIN:-$repo_root/target/debug/rampart}"
if [[ ! -x "$bin" ]]; then
    echo "python-tests: rampart binary not found at $bin" >&2
    echo "python-tests: build it first with 'cargo build -p rampart', or set RAMPART_BIN" >&2
    exit 1
fi
export RAMPART_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "python-tests: $python not found; install Python 3.9 or later" >&2
    exit 1
fi

venv="$repo_root/.venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        echo "python-tests: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
"$venv/bin/python" -m pip install -q -r tests/python/requirements.txt

exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python "$@"
