#!/usr/bin/env bash
# Gateway benchmark: Rampart side by side with TensorZero and LiteLLM against the same mock
# upstream (nginx), via ../shared/bench/peers.sh. Results: BENCHMARKS.md.
#
# Knobs are peers.sh's (PEERS_REPS, PEERS_DUR, PEERS_CONNS, PEERS_TARGETS, ...), plus
# BENCH_LIMITS=0 (no [[limits]]), BENCH_AUDIT=0 ([audit] enabled = false: no decision record
# awaited before each call) and SQLITE_SYNC=full|normal ([storage] sqlite_synchronous).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS_SCRIPT:-$root/../shared/bench/peers.sh}
[ -x "$peers" ] || [ -f "$peers" ] || { echo "error: $peers not found (it ships in shared/bench)" >&2; exit 1; }

cargo build --release -p rampart --manifest-path "$root/Cargo.toml"
work=$(mktemp -d /tmp/rampart-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat >"$work/rampart.toml" <<TOML
[server]
listen = "127.0.0.1:${RAMPART_PORT:-8088}"
[storage]
data_dir = "$work/data"
sqlite_synchronous = "${SQLITE_SYNC:-full}"
[logging]
level = "warn"
[[backends]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:18000/v1"
[[backends]]
name = "mock-sse"
kind = "openai"
base_url = "http://127.0.0.1:18000/sse/v1"
# A second backend on the same mock, as a fallback model: routing plans a two-model chain.
[[backends]]
name = "mock-spare"
kind = "openai"
base_url = "http://127.0.0.1:18000/v1"
max_concurrency = 1024
max_queue = 1024
[[models]]
name = "mock"
backend = "mock"
upstream_model = "gpt-4o-mini"
price_per_mtok = { input = 0.15, output = 0.6 }
fallbacks = ["mock-spare"]
[[models]]
name = "mock-spare"
backend = "mock-spare"
upstream_model = "gpt-4o-mini"
price_per_mtok = { input = 0.15, output = 0.6 }
[[models]]
name = "mock-stream"
backend = "mock-sse"
upstream_model = "gpt-4o-mini"
price_per_mtok = { input = 0.15, output = 0.6 }
TOML
# Limits on by default (BENCH_LIMITS=0 leaves them out): every request is counted with
# OpenAI's BPE, reserved on four counters in the ledger and settled afterwards. The limits are
# far above what the run reaches, so they cost time but never refuse.
if [ "${BENCH_LIMITS:-1}" = 1 ]; then
  cat >>"$work/rampart.toml" <<TOML
[[limits]]
name = "bench-global"
scope = "global"
requests_per_minute = 1000000000
tokens_per_minute = 1000000000000
spend_per_day_usd = 100000.0
spend_per_month_usd = 1000000.0
TOML
fi
if [ "${BENCH_AUDIT:-1}" = 0 ]; then
  printf '[audit]\nenabled = false\n' >>"$work/rampart.toml"
fi
export RAMPART_CMD="exec $root/target/release/rampart serve --config $work/rampart.toml"
export PEERS_TARGETS=${PEERS_TARGETS:-"direct tensorzero litellm2 rampart"}
export PEERS_CONNS=${PEERS_CONNS:-"16 64"}
bash "$peers"
