#!/usr/bin/env bash
# Installs what a fresh machine needs to build and test Rampart: a C/C++ toolchain, cmake and
# libclang (sqlite, ring, llama.cpp), Python's venv and pip (SDK tests, model pulls), Chromium
# and its WebDriver (the chat page test).
# Idempotent and quiet.
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
# llama.cpp (in-process GGUF chat) is built with cmake; its Rust bindings are generated with libclang.
command -v cmake >/dev/null || need+=(cmake)
command -v clang >/dev/null || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
# `rampart models pull` downloads model packages with pip.
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v curl >/dev/null || need+=(curl)
# The chat page test (tests/python/test_web_ui.py) drives headless Chromium through its driver.
# The metrics test lints the /metrics exposition with promtool (Debian's prometheus package).
command -v promtool >/dev/null || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} (Debian packages)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing: install the Rust toolchain (1.95 or newer) first" >&2
  exit 1
fi
