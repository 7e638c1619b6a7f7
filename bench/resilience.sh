#!/usr/bin/env bash
# Resilience benchmarks: overload shedding (3x a backend's capacity: only 200/429, bounded p99,
# flat RSS) and failover time (Tier 2 upstream killed under load). Results: BENCHMARKS.md.
# RESILIENCE_SECS sets the overload run's length (default 20 s; failover runs half of it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -p rampart --manifest-path "$root/Cargo.toml"
venv="$root/bench/.venv-resilience"
if ! "$venv/bin/python" -c 'import httpx' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'httpx==0.28.1'
fi
echo "machine: nproc $(nproc), $(free -h | awk '/^Mem:/ {print $2}') RAM, commit $(git -C "$root" rev-parse --short HEAD)"
"$venv/bin/python" "$root/bench/resilience.py" "$root/target/release/rampart" --duration "${RESILIENCE_SECS:-20}"
