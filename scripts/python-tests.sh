#!/usr/bin/env bash
# Runs the official OpenAI Python SDK against the built binary, in a venv at .venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${RAMPART_BIN:-$root/target/debug/rampart}
if [ ! -x "$bin" ]; then
  echo "error: $bin is missing: build it first (cargo build -p rampart)" >&2
  exit 1
fi
venv=$root/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r "$root/tests/sdk/requirements.txt"
cd "$root/tests/sdk"
RAMPART_BIN=$bin "$venv/bin/python" -m pytest -q -p no:cacheprovider .
