#!/usr/bin/env bash
# Builds the release binary that `make run` serves and `make bench-inference` measures, and
# prints its path.
#
# It is built for this machine's CPU (`-C target-cpu=native`, which also makes llama.cpp build
# with GGML_NATIVE, as llama.cpp's own build does by default), in its own target directory so
# that tests and lint keep the portable flags and their build cache. On a CPU with AVX-512
# and VNNI, llama.cpp's prompt processing is much faster native than in the portable AVX2
# build (BENCHMARKS.md, "Embedded inference"). Such a binary may not start on an older CPU:
# PORTABLE=1 builds the portable one (target/release/rampart) to copy to other machines.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PORTABLE:-}" ]; then
    cargo build --release -p rampart >&2
    echo target/release/rampart
else
    RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native" cargo build --release -p rampart --target-dir target/native >&2
    echo target/native/release/rampart
fi
