#!/usr/bin/env bash
# The injection classifier's time per text, Rampart (candle, in-process) beside Hugging Face
# transformers (PyTorch) on the same DeBERTa-v3 models, texts, windows and thread count, in
# the same run. Results go to BENCHMARKS.md by hand.
#
# Usage: bench/classifier/run.sh   (env: RUNS=30, THREADS=2, VENV=~/.cache/rampart-bench/classifier-venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-30}
THREADS=${THREADS:-2}
VENV=${VENV:-$HOME/.cache/rampart-bench/classifier-venv}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch transformers
fi
"$VENV/bin/python" bench/classifier/models.py "$WORK/models" "$WORK/texts.txt"
cargo build --release -q -p rampart-inference --example classify_speed
echo "machine: nproc=$(nproc), $(free -h | awk '/^Mem:/ {print $2}') memory, threads=$THREADS, runs=$RUNS"
for model in xsmall base; do
  echo "== $model: rampart"
  RAYON_NUM_THREADS=$THREADS target/release/examples/classify_speed "$WORK/models/$model" "$WORK/texts.txt" "$RUNS"
  echo "== $model: transformers"
  OMP_NUM_THREADS=$THREADS "$VENV/bin/python" bench/classifier/peer.py "$WORK/models/$model" "$WORK/texts.txt" "$RUNS" "$THREADS"
done
