# Rampart: `make run` sets up and serves; `make test` runs every test. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
CONFIG ?=
DEBUG_BIN := target/debug/rampart

.PHONY: run build release test test-rust test-python lint fmt openapi services bench bench-inference bench-resilience bench-governance bench-audit bench-retrieval bench-classifier setup help

help:
	@echo "make run      build in release, pull the default local models, serve (CONFIG=path/to/rampart.toml optional)"
	@echo "make test     lint, Rust tests (incl. PostgreSQL), OpenAI SDK and browser tests"
	@echo "make bench    gateway benchmark against TensorZero and LiteLLM (see BENCHMARKS.md)"
	@echo "make bench-inference  embedded models against llama-cpp-python and sentence-transformers (see BENCHMARKS.md)"
	@echo "make bench-resilience  overload shedding and failover time (see BENCHMARKS.md)"
	@echo "make bench-governance  gateway req/s with auth, policy and audit on vs off"
	@echo "make bench-audit  audit appends/s, proof and verify speed, policy decision latency"
	@echo "make bench-retrieval  retrieval quality and latency against rank_bm25 and numpy (see bench/retrieval/README.md)"
	@echo "make bench-classifier  injection classifier time per text against Hugging Face transformers"
	@echo "make openapi  regenerate docs/openapi.json"

setup:
	@scripts/setup.sh

# `make run` serves a binary built for this machine's CPU (scripts/build-release.sh says why;
# PORTABLE=1 builds the portable one instead).
run: setup
	@bin=$$(scripts/build-release.sh) && $$bin models pull && exec $$bin serve $(if $(CONFIG),--config $(CONFIG),)

# The portable release binary (target/release/rampart), which the gateway benchmarks use.
release:
	$(CARGO) build --release -p rampart

build:
	$(CARGO) build -p rampart

test: setup services lint test-rust test-python
	@echo "make test: all suites passed"

services:
	@scripts/check-services.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy -p rampart --no-default-features --locked -- -D warnings

test-rust:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --locked --no-fail-fast; \
	else \
		$(CARGO) test --workspace --locked --no-fail-fast; \
	fi

test-python: build
	@scripts/python-tests.sh

fmt:
	$(CARGO) fmt --all

openapi: build
	$(DEBUG_BIN) openapi > docs/openapi.json

bench:
	@bench/run.sh

bench-inference:
	@bench/inference.sh

bench-resilience:
	@bench/resilience.sh

bench-governance: release
	@bench/governance.sh

bench-retrieval:
	@bench/retrieval.sh

bench-classifier:
	@bench/classifier/run.sh

bench-audit:
	$(CARGO) run --release -p rampart-store --example audit_append_speed -- 10 256
	$(CARGO) run --release -p rampart-audit --example audit_speed
	$(CARGO) run --release -p rampart-policy --example policy_speed
