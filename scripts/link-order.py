#!/usr/bin/env python3
"""Regenerates crates/rampart/link-order.txt: the functions `rampart serve` runs, hottest first,
which the release link places side by side (crates/rampart/build.rs says how and why).

The linker lays out functions in the order the compiler emits them, so the few thousand that
start and serve the gateway sit scattered through 30 MB of code beside llama.cpp, candle,
tantivy and every CLI command. Each first touch of a code page maps its 64 KiB neighbourhood,
so an idle gateway kept about 16 MB of executable pages resident (BENCHMARKS.md, "Idle
memory"). Listing the functions it runs lets the linker pack them together.

What it does: builds the portable release binary and the gateway-only one
(`--no-default-features`, in target/gateway-only), starts a mock OpenAI upstream (JSON and
SSE), runs each `rampart serve` under `valgrind --tool=callgrind` with the benchmark's configuration
(request log, audit, policy, limits, a fallback model), sends the requests a gateway serves
(chat, streamed chat, models, health, metrics, an unknown model), stops it with SIGTERM and
writes every function of the executable that ran, by instructions spent, hottest first: the
default build's list, then the names only the gateway-only build has (symbol names carry a
hash of each crate's features, so the two builds name most functions differently).

A stale list is harmless: names that no longer exist are skipped by the linker, and new
functions are placed as before. Rerun after large changes: `python3 scripts/link-order.py`
(needs valgrind; a minute or two once both builds are cached).
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "crates", "rampart", "link-order.txt")
BINARY = os.path.join(ROOT, "target", "release", "rampart")

COMPLETION = {
    "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the mock."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
}


def stream_body() -> bytes:
    base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    events = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    events += [dict(base, choices=[{"index": 0, "delta": {"content": f"word{i} "}, "finish_reason": None}])
               for i in range(20)]
    events.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    events.append(dict(base, choices=[], usage={"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}))
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send(200, "application/json", json.dumps({"object": "list", "data": [
            {"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "mock"}]}).encode())

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
        if body.get("stream"):
            self.send(200, "text/event-stream", stream_body())
        else:
            self.send(200, "application/json", json.dumps(COMPLETION).encode())

    def send(self, status, content_type, data):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def config(work: str, upstream: int, listen: int) -> str:
    url = f"http://127.0.0.1:{upstream}/v1"
    return f"""
[server]
listen = "127.0.0.1:{listen}"
[storage]
data_dir = "{work}/data"
[logging]
level = "warn"
[policy]
# valgrind runs code about fifty times slower than the CPU does.
eval_timeout_ms = 5000
[[backends]]
name = "mock"
kind = "openai"
base_url = "{url}"
[[backends]]
name = "mock-spare"
kind = "openai"
base_url = "{url}"
[[models]]
name = "mock"
backend = "mock"
upstream_model = "gpt-4o-mini"
price_per_mtok = {{ input = 0.15, output = 0.6 }}
fallbacks = ["mock-spare"]
[[models]]
name = "mock-spare"
backend = "mock-spare"
upstream_model = "gpt-4o-mini"
[[limits]]
name = "profile-global"
scope = "global"
requests_per_minute = 1000000000
tokens_per_minute = 1000000000000
spend_per_day_usd = 100000.0
"""


def request(base: str, method: str, path: str, body=None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def exercise(base: str):
    chat = {"model": "mock", "messages": [{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "Say hello to the gateway."}]}
    for path in ("/healthz", "/readyz", "/health", "/v1/models", "/v1/models/mock", "/metrics"):
        request(base, "GET", path)
    for _ in range(30):
        assert request(base, "POST", "/v1/chat/completions", chat) == 200
        assert request(base, "POST", "/v1/chat/completions",
                       dict(chat, stream=True, stream_options={"include_usage": True})) == 200
    request(base, "POST", "/v1/chat/completions", dict(chat, model="no-such-model"))
    request(base, "GET", "/metrics")


def executed_functions(callgrind_out: str, executable: str) -> list[str]:
    """Functions of `executable` in a callgrind profile (mangled names), by self cost."""
    objects, functions, cost = {}, {}, {}
    in_executable = False
    current_function = None  # a function of `executable` whose cost lines follow, else None
    skip_next = False
    name_line = re.compile(r"^(ob|cob|fn|cfn)=\((\d+)\)(?: (.*))?$")
    for line in open(callgrind_out, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        match = name_line.match(line)
        if match:
            kind, key, name = match.groups()
            names = objects if kind in ("ob", "cob") else functions
            if name:
                names[key] = name
            if kind == "ob":
                in_executable = os.path.realpath(objects[key]) == executable
            elif kind == "fn":
                current_function = functions[key] if in_executable else None
                if current_function is not None:
                    cost.setdefault(current_function, 0)
            continue
        if line.startswith("calls="):
            skip_next = True  # the next cost line is the call's inclusive cost
            continue
        if line[:1].isdigit() or line[:1] in "+-*":
            if skip_next:
                skip_next = False
            elif current_function is not None:
                fields = line.split()
                if len(fields) >= 2 and fields[-1].isdigit():
                    cost[current_function] += int(fields[-1])
    # callgrind marks recursion levels as `name'2`; the linker wants each symbol once.
    total = {}
    for name, spent in cost.items():
        symbol = re.sub(r"'\d+$", "", name)
        if re.fullmatch(r"[A-Za-z_.$][\w.$]*", symbol):
            total[symbol] = total.get(symbol, 0) + spent
    return sorted(total, key=lambda name: (-total[name], name))


# The builds to profile: the default one (which `make run`'s native build shares symbol names
# with: cargo keeps RUSTFLAGS out of the names' hashes) and the gateway-only one, whose
# features change the hashes of most names. Its own target directory keeps the two builds'
# caches apart.
BUILDS = [
    (BINARY, []),
    (os.path.join(ROOT, "target", "gateway-only", "release", "rampart"),
     ["--no-default-features", "--target-dir", os.path.join(ROOT, "target", "gateway-only")]),
]


def profile(binary: str, upstream_port: int) -> list[str]:
    """The functions of `binary` that starting, serving and stopping the gateway run."""
    with tempfile.TemporaryDirectory(prefix="rampart-link-order.") as work:
        listen = 18000 + os.getpid() % 1000
        path = os.path.join(work, "rampart.toml")
        with open(path, "w") as file:
            file.write(config(work, upstream_port, listen))
        out = os.path.join(work, "callgrind.out")
        env = dict(os.environ)
        env.pop("RUST_BACKTRACE", None)
        gateway = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}",
             binary, "serve", "--config", path],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{listen}"
        deadline = time.monotonic() + 600
        while request_ok(base) is False:
            if gateway.poll() is not None or time.monotonic() > deadline:
                detail = gateway.stderr.read() if gateway.poll() is not None else "timed out"
                gateway.kill()
                raise RuntimeError(f"{binary} did not start under valgrind: {detail}")
            time.sleep(2)
        exercise(base)
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=300)
        return executed_functions(out, os.path.realpath(binary))


def main() -> int:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    names: dict[str, None] = {}
    for binary, cargo_args in BUILDS:
        subprocess.run(["cargo", "build", "--release", "-p", "rampart", *cargo_args], cwd=ROOT, check=True)
        try:
            found = profile(binary, upstream.server_address[1])
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"{len(found)} functions run in {os.path.relpath(binary, ROOT)}")
        names.update(dict.fromkeys(found))  # the default build's order first
    with open(OUTPUT, "w") as file:
        file.write("\n".join(names) + "\n")
    print(f"{len(names)} names written to {os.path.relpath(OUTPUT, ROOT)}")
    return 0


def request_ok(base: str) -> bool:
    try:
        return request(base, "GET", "/healthz") == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


if __name__ == "__main__":
    sys.exit(main())
