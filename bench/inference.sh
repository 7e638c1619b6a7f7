#!/usr/bin/env bash
# Embedded-inference benchmark: Rampart's in-process models side by side with their Python
# peers, in one run, on the same files and thread count:
#   chat        the pulled Gemma 3 270M Q4_K_M GGUF: Rampart (`rampart serve`, embedded backend,
#               streaming over HTTP) vs llama-cpp-python (built from source by pip)
#   concurrency Rampart only: aggregate generation tok/s with 4 streams vs 1
#   embeddings  all-MiniLM-L6-v2: Rampart's /v1/embeddings vs sentence-transformers (CPU torch)
# The driver is bench/inference.py; results are printed as Markdown and written to
# $BENCH_OUT (default target/bench/inference.md, plus the raw numbers as .json).
#
# Knobs (environment):
#   BENCH_PARTS=chat,embed  what to run, comma-separated: chat (against llama-cpp-python, a
#                           30-minute build the first time; includes 4 streams vs 1),
#                           concurrency (Rampart's 4 streams vs 1 alone), embed
#   BENCH_THREADS=2         threads for every side (llama.cpp n_threads, torch, candle's rayon)
#   BENCH_REPS=5            interleaved repeats (medians reported)
#   BENCH_LOAD_REPS=2       extra fresh starts for the load-time medians
#   BENCH_MAX_TOKENS=128    completion length (greedy, no stop strings)
#   BENCH_CTX=2048          n_ctx = n_batch on both sides
#   BENCH_PEER_FLASH_ATTN=1 llama-cpp-python's flash_attn (Rampart leaves llama.cpp's default,
#                           `auto`, which is on for a CPU; 0 = llama-cpp-python's own default, off)
#   BENCH_STREAMS=4         concurrent streams for the concurrency test
#   BENCH_PARALLEL          Rampart's `parallel` (decoding slots) for the chat backend; unset:
#                           Rampart's default (the key is left out of the config)
#   BENCH_SENTENCES=512     embedding corpus size;  BENCH_BATCH=32 sentences per request
#   BENCH_PORT=8098         Rampart listens here (and on the next port for embeddings)
#   BENCH_DATA_DIR          where the models are pulled (default: Rampart's default data dir,
#                           the same one `make run` uses)
#   BENCH_VENV              the peers' venv (default bench/.venv-inference, reused across runs)
#   BENCH_SKIP_ST=1         skip the sentence-transformers peer (it pulls torch from PyPI: ~5 GB)
#   BENCH_OUT               the Markdown report
#   BENCH_RAMPART_BIN       use this release binary instead of building the one `make run` serves
#                           (scripts/build-release.sh: target/native/release/rampart, or with
#                           PORTABLE=1 the portable target/release/rampart)
#   BENCH_REQUIRE_QUIET=1   stop before measuring when another process is using > 20 % of a core
#                           (llama.cpp's spinning thread barriers make an oversubscribed run
#                           several times slower and very noisy)
#   BENCH_KEEP_WORK=1       keep the work dir (configs, Rampart and worker logs) in /tmp
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

threads=${BENCH_THREADS:-2}
parts=${BENCH_PARTS:-chat,embed}
venv=${BENCH_VENV:-$root/bench/.venv-inference}
out=${BENCH_OUT:-$root/target/bench/inference.md}
data_dir=${BENCH_DATA_DIR:-${RAMPART_STORAGE__DATA_DIR:-$HOME/.local/share/rampart}}
llama_cpp_python_version=0.3.36
sentence_transformers_version=6.2.0

say() { echo "[inference-bench $(date +%H:%M:%S)] $*" >&2; }

# --- Rampart, in release ------------------------------------------------------------------------
if [ -n "${BENCH_RAMPART_BIN:-}" ]; then
    bin=$BENCH_RAMPART_BIN   # a release binary built elsewhere (e.g. from another checkout)
    say "using $bin (BENCH_RAMPART_BIN; not building)"
else
    say "building rampart (release, for this CPU, as \`make run\` serves it: scripts/build-release.sh)"
    bin=$root/$(scripts/build-release.sh)
fi

work=$(mktemp -d /tmp/rampart-inference-bench.XXXXXX)
keep_work=${BENCH_KEEP_WORK:-}
cleanup() { if [ -z "$keep_work" ]; then rm -rf "$work"; else echo "work dir kept: $work" >&2; fi; }
trap cleanup EXIT

# --- the models, as `rampart models pull` installs them ------------------------------------------
printf '[storage]\ndata_dir = "%s"\n' "$data_dir" >"$work/pull.toml"
say "pulling the default models into $data_dir/models (no-op when present)"
"$bin" --config "$work/pull.toml" models pull --json >"$work/pull.json"
model_path() { python3 -c 'import json,sys; print(next(json.loads(l)["path"] for l in open(sys.argv[1]) if json.loads(l)["model"]==sys.argv[2]))' "$work/pull.json" "$1"; }
gguf=$(model_path gemma-3-270m)
minilm=$(model_path all-minilm-l6-v2)
say "gguf: $gguf"
say "minilm: $minilm"

# --- the peers' venv (built once, reused) ----------------------------------------------------------
installs=$venv/.bench-installs   # one line per install: what, seconds, MB added
if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
fi
venv_mb() { du -sm "$venv" | cut -f1; }
installed_version() { "$venv/bin/python" -m pip show "$1" 2>/dev/null | awk '/^Version:/{print $2}'; }

if [[ ,$parts, == *,chat,* ]] && [ "$(installed_version llama-cpp-python)" != "$llama_cpp_python_version" ]; then
    say "installing llama-cpp-python==$llama_cpp_python_version (compiles llama.cpp with cmake; several minutes)"
    before=$(venv_mb); started=$(date +%s)
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$venv/bin/python" -m pip install --no-cache-dir \
        "llama-cpp-python==$llama_cpp_python_version" >"$work/pip-llama.log" 2>&1 \
        || { tail -40 "$work/pip-llama.log" >&2; echo "error: installing llama-cpp-python failed" >&2; exit 1; }
    echo "llama-cpp-python==$llama_cpp_python_version $(( $(date +%s) - started )) s +$(( $(venv_mb) - before )) MB" >>"$installs"
fi

st_skip=${BENCH_SKIP_ST:+BENCH_SKIP_ST is set}
if [[ ,$parts, == *,embed,* ]] && [ -z "$st_skip" ] && [ "$(installed_version sentence-transformers)" != "$sentence_transformers_version" ]; then
    say "installing sentence-transformers==$sentence_transformers_version (with torch from PyPI, several GB)"
    before=$(venv_mb); started=$(date +%s)
    if "$venv/bin/python" -m pip install "sentence-transformers==$sentence_transformers_version" >"$work/pip-st.log" 2>&1; then
        echo "sentence-transformers==$sentence_transformers_version (+torch) $(( $(date +%s) - started )) s +$(( $(venv_mb) - before )) MB" >>"$installs"
    else
        tail -20 "$work/pip-st.log" >&2
        st_skip="installing sentence-transformers==$sentence_transformers_version (torch from PyPI) failed: $(grep -m1 -i error "$work/pip-st.log" || tail -1 "$work/pip-st.log")"
        say "$st_skip"
    fi
fi

# --- machine and version facts -------------------------------------------------------------------
loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Processes using more than 20 % of a core right now (top's second sample covers 2 s).
busy=$(top -b -n 2 -d 2 -w 200 | awk '/^ *PID/ {n++; next} n == 2 && $9 + 0 > 20 {printf "%s%s (%s%%)", sep, $12, $9; sep = ", "}')
if [ -n "$busy" ]; then
    say "WARNING: the machine is not quiet (load $loadavg_before; busy: $busy): numbers will be noisy"
    if [ -n "${BENCH_REQUIRE_QUIET:-}" ]; then
        echo "error: BENCH_REQUIRE_QUIET is set and the machine is busy; try again later" >&2
        exit 1
    fi
fi
lock_version() { awk -v n="$1" '$0=="name = \""n"\"" {getline; gsub(/version = |"/,""); print; exit}' Cargo.lock; }
# How llama.cpp was compiled into Rampart (llama-cpp-sys-2's CMake cache of the release build).
cmake_cache=$(ls -t "$(dirname "$bin")"/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt 2>/dev/null | head -1 || true)
rampart_simd="unknown"
if [ -n "$cmake_cache" ]; then
    rampart_simd=$(grep -E '^GGML_(NATIVE|AVX|AVX2|AVX512|FMA|F16C|BMI2|OPENMP):' "$cmake_cache" \
        | sed -E 's/^GGML_([A-Z0-9]+):[A-Z]+=(.*)$/\1=\2/' | paste -sd' ' -)
fi
BENCH_BIN=$bin BENCH_BIN_OVERRIDE=${BENCH_RAMPART_BIN:-} LOADAVG_BEFORE=$loadavg_before BUSY=$busy \
INSTALLS=$installs ST_SKIP=$st_skip RAMPART_SIMD=$rampart_simd \
LLAMA_CPP_2=$(lock_version llama-cpp-2) LLAMA_CPP_SYS_2=$(lock_version llama-cpp-sys-2) CANDLE=$(lock_version candle-core) \
python3 - "$work/machine.json" <<'PY'
import json, os, subprocess, sys
env = os.environ
def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
mem = next((line.split()[1] for line in sh("free", "-h").splitlines() if line.startswith("Mem:")), "?")
cpu = next((line.split(":", 1)[1].strip() for line in sh("lscpu").splitlines() if line.startswith("Model name:")), "?")
commit = sh("git", "rev-parse", "--short", "HEAD") + ("-dirty" if sh("git", "status", "--porcelain", "--untracked-files=no") else "")
if env["BENCH_BIN_OVERRIDE"]:
    commit += f" (work tree; the binary is BENCH_RAMPART_BIN={env['BENCH_BIN_OVERRIDE']})"
facts = {
    "nproc": sh("nproc"),
    "cpu": cpu,
    "mem_total": mem,
    "loadavg_before": env["LOADAVG_BEFORE"],
    "commit": commit,
    "rampart_version": sh(env["BENCH_BIN"], "version").removeprefix("rampart "),
    "llama_cpp_2": env["LLAMA_CPP_2"],
    "llama_cpp_sys_2": env["LLAMA_CPP_SYS_2"],
    "candle": env["CANDLE"],
    "rampart_simd": env["RAMPART_SIMD"],
    "notes": [],
}
if env["BUSY"]:
    facts["notes"].append(f"The machine was not quiet at the start (load {env['LOADAVG_BEFORE']}; busy: {env['BUSY']}).")
try:
    for line in open(env["INSTALLS"]):
        facts["notes"].append("Peer install (first run): " + line.strip() + ".")
except OSError:
    pass
if env["ST_SKIP"]:
    facts["notes"].append("sentence-transformers: " + env["ST_SKIP"])
json.dump(facts, open(sys.argv[1], "w"))
PY

# --- the run -------------------------------------------------------------------------------------
st_args=()
[ -n "$st_skip" ] && st_args=(--no-st "$st_skip")
"$venv/bin/python" bench/inference.py run \
    --rampart "$bin" --python "$venv/bin/python" --gguf "$gguf" --minilm "$minilm" \
    --threads "$threads" --ctx "${BENCH_CTX:-2048}" --max-tokens "${BENCH_MAX_TOKENS:-128}" \
    --reps "${BENCH_REPS:-5}" --load-reps "${BENCH_LOAD_REPS:-2}" --streams "${BENCH_STREAMS:-4}" ${BENCH_PARALLEL:+--parallel "$BENCH_PARALLEL"} \
    --peer-flash-attn "${BENCH_PEER_FLASH_ATTN:-1}" \
    --sentences "${BENCH_SENTENCES:-512}" --batch "${BENCH_BATCH:-32}" --port "${BENCH_PORT:-8098}" \
    --parts "$parts" --work "$work" --out "$out" --machine "$work/machine.json" "${st_args[@]}"
say "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
say "report: $out (raw numbers: ${out%.md}.json)"
