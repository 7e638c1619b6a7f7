#!/usr/bin/env bash
# Retrieval benchmark: Rampart's embedded index (Tantivy BM25, HNSW, weighted RRF) next to a
# Python reference (rank_bm25's BM25Okapi and numpy cosine over the same chunks and the same
# vectors), on the committed known-item set built from Debian manual pages
# (bench/retrieval/README.md says how it was made and why). Reports nDCG@10 and recall@100 by
# document for BM25, vectors and hybrid; search latency p50/p99 at BENCH_SCALE chunks
# (excluding query embedding); ingest chunks/s through `POST /ingest` with the embedded
# MiniLM; index size on disk. Markdown to $BENCH_OUT (default target/bench/retrieval.md).
#
# Knobs: BENCH_SCALE=100000  BENCH_PORT=8097  BENCH_DATA_DIR (where models are pulled)
#        BENCH_VENV (default bench/.venv-retrieval)  BENCH_RAMPART_BIN (skip the release build)
#        BENCH_KEEP_WORK=1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scale=${BENCH_SCALE:-100000}
port=${BENCH_PORT:-8097}
venv=${BENCH_VENV:-$root/bench/.venv-retrieval}
out=${BENCH_OUT:-$root/target/bench/retrieval.md}
data_dir=${BENCH_DATA_DIR:-${RAMPART_STORAGE__DATA_DIR:-$HOME/.local/share/rampart}}
say() { echo "[retrieval-bench $(date +%H:%M:%S)] $*" >&2; }

if [ -n "${BENCH_RAMPART_BIN:-}" ]; then
    bin=$BENCH_RAMPART_BIN
else
    say "building rampart and the retrieval_bench example (release)"
    cargo build --release -p rampart
    bin=$root/target/release/rampart
fi
cargo build --release -p rampart-retrieval --example retrieval_bench
tool=$root/target/release/examples/retrieval_bench

work=$(mktemp -d /tmp/rampart-retrieval-bench.XXXXXX)
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
    if [ -z "${BENCH_KEEP_WORK:-}" ]; then rm -rf "$work"; else echo "work dir kept: $work" >&2; fi
}
trap cleanup EXIT

printf '[storage]\ndata_dir = "%s"\n' "$data_dir" >"$work/pull.toml"
say "pulling all-minilm-l6-v2 into $data_dir/models (no-op when present)"
"$bin" --config "$work/pull.toml" models pull all-minilm-l6-v2 --json >"$work/pull.json"
minilm=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["path"])' "$work/pull.json")

if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv (rank_bm25, numpy)"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q "rank_bm25==0.2.2" "numpy>=1.26,<3"
fi

cat >"$work/rampart.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[storage]
data_dir = "$work/data"
[[backends]]
name = "local"
kind = "embedded"
path = "$minilm"
[[models]]
name = "all-minilm-l6-v2"
backend = "local"
kind = "embedding"
TOML
"$bin" serve --config "$work/rampart.toml" >"$work/rampart.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/rampart.log" >&2; exit 1; }

BENCH_TOOL=$tool BENCH_URL="http://127.0.0.1:$port" BENCH_WORK=$work BENCH_SCALE=$scale BENCH_OUT=$out \
BENCH_INDEX_DIR="$work/data/index" "$venv/bin/python" bench/retrieval/run.py
