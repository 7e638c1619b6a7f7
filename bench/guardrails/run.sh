#!/usr/bin/env bash
# Detection quality of Rampart's guardrails next to Microsoft Presidio on the committed corpus,
# injection TPR/FPR, and check latency. See README.md here and BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/guardrails/out
mkdir -p "$out"
python3 -c 'import presidio_analyzer, spacy' 2>/dev/null || python3 -m pip install --quiet presidio-analyzer
cargo run --quiet --release -p rampart-guardrails --example guardrails_eval -- bench/guardrails/corpus.jsonl "$out/rampart.jsonl"
cargo run --quiet --release -p rampart-guardrails --example guardrails_eval -- --injection bench/guardrails/injection.jsonl "$out/rampart_injection.jsonl"
python3 bench/guardrails/presidio_eval.py "$out/presidio.jsonl"
python3 bench/guardrails/score.py "$out/rampart.jsonl" "$out/presidio.jsonl"
python3 bench/guardrails/score.py --injection "$out/rampart_injection.jsonl"
cargo run --quiet --release -p rampart-guardrails --example guardrails_speed
