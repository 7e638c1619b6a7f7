#!/usr/bin/env bash
# Gateway throughput with identity, policy and audit on versus off, in the same run against
# the same mock upstream (nginx answering a fixed chat completion), with wrk.
#
#   on:  an API key on every request (auth required), the built-in Rego policy, every decision
#        appended to the SQLite audit log (group commit, fsync) and committed before the answer
#        (the mock model is Tier 1, so with the default [audit] record_before_send = "cloud" the
#        call goes out while the record commits; RAMPART_AUDIT__RECORD_BEFORE_SEND=always waits
#        before the call), the outcome after
#   off: [auth] mode = "off" and [audit] enabled = false (the policy still decides: it cannot
#        be switched off, by design)
#
# Usage: bench/governance.sh   (env: BIN, DURATION=10, CONNS="16 64", REPS=3,
#        SQLITE_SYNC=full|normal: [storage] sqlite_synchronous on both sides,
#        UPSTREAM_MS=N: the upstream answers after N ms, as a model would, instead of nginx's
#        ~0.1 ms; bench/delayed_upstream.py serves it)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/rampart}
DURATION=${DURATION:-10}
CONNS=${CONNS:-16 64}
REPS=${REPS:-3}
SQLITE_SYNC=${SQLITE_SYNC:-full}
UPSTREAM_MS=${UPSTREAM_MS:-0}
MOCK_PORT=${MOCK_PORT:-18100}
PORT=${PORT:-18180}
command -v nginx >/dev/null && command -v wrk >/dev/null || { echo "needs nginx and wrk (apt-get install nginx-light wrk)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "build first: cargo build --release -p rampart" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null || true; nginx -p "$WORK/nginx" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$MOCK_PORT;
    location /v1/chat/completions {
      default_type application/json;
      return 200 '{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"mock","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}';
    }
    location / { default_type application/json; return 200 '{"object":"list","data":[]}'; }
  }
}
NGINX
if [ "$UPSTREAM_MS" = 0 ]; then
  nginx -p "$WORK/nginx" -c nginx.conf
else
  python3 bench/delayed_upstream.py "$MOCK_PORT" "$UPSTREAM_MS" & echo $! > "$WORK/upstream.pid"
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$MOCK_PORT/v1/models" >/dev/null && break; sleep 0.1; done
fi

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock","messages":[{"role":"user","content":"Say hello"}]}'
LUA

config() { # $1: on|off
  cat <<TOML
[server]
listen = "127.0.0.1:$PORT"
[storage]
data_dir = "$WORK/data-$1"
sqlite_synchronous = "$SQLITE_SYNC"
[logging]
level = "warn"
[[backends]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
max_concurrency = 1024
[[models]]
name = "mock"
backend = "mock"
TOML
  if [ "$1" = off ]; then printf '[auth]\nmode = "off"\n[audit]\nenabled = false\n'; fi
}

run() { # $1: on|off, $2: conns → req/s
  local key_header=()
  [ -n "${KEY:-}" ] && [ "$1" = on ] && key_header=(-H "Authorization: Bearer $KEY")
  wrk -t2 -c"$2" -d"${DURATION}s" --latency -s "$WORK/post.lua" "${key_header[@]}" "http://127.0.0.1:$PORT/v1/chat/completions" \
    | awk '/Requests\/sec/ {rps=$2} /99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {printf "%s %s %s\n", rps, p99, (bad==""?0:bad)}'
}

echo "machine: nproc $(nproc), $(free -h | awk '/Mem:/ {print $2}') RAM; duration ${DURATION}s; reps $REPS; sqlite_synchronous $SQLITE_SYNC; upstream $([ "$UPSTREAM_MS" = 0 ] && echo "nginx" || echo "answers after $UPSTREAM_MS ms")"
printf "%-4s %6s %12s %10s %8s\n" mode conns "req/s" p99 non2xx
for mode in on off; do
  config "$mode" > "$WORK/$mode.toml"
  KEY=""
  if [ "$mode" = on ]; then
    KEY=$("$BIN" --config "$WORK/$mode.toml" keys create --tenant bench --role user 2>/dev/null)
  fi
  RAMPART_LOG=warn "$BIN" --config "$WORK/$mode.toml" serve > "$WORK/$mode.log" 2>&1 & echo $! > "$WORK/rampart.pid"
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  # A key made before start is seen at start: authentication is on from the first request.
  for conns in $CONNS; do
    for rep in $(seq "$REPS"); do
      read -r rps p99 bad < <(KEY=$KEY run "$mode" "$conns")
      printf "%-4s %6s %12s %10s %8s\n" "$mode" "$conns" "$rps" "$p99" "$bad"
    done
  done
  if [ "$mode" = on ]; then
    "$BIN" --config "$WORK/$mode.toml" audit verify | tail -1
  fi
  kill "$(cat "$WORK/rampart.pid")"; wait "$(cat "$WORK/rampart.pid")" 2>/dev/null || true; rm -f "$WORK/rampart.pid"
done
