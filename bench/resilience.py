"""Resilience benchmarks for Rampart: overload shedding and failover time.

Two runs against in-process mock OpenAI upstreams (standard library HTTP servers that answer
after a fixed delay, so a backend has a known capacity):

1. overload: a backend with max_concurrency C and max_queue Q, driven by 3 x (C + Q)
   closed-loop clients. Reports every status seen (only 200 and 429 are acceptable), p50/p99
   of admitted requests and of refusals, and the gateway's RSS sampled every second.
2. failover: a Tier 2 model with a Tier 1 fallback under steady load; the Tier 2 upstream is
   killed (listening socket closed, connections cut) mid-run. Reports failed requests and the
   time from the kill to the first answer served by the fallback, and to the circuit opening.

Usage: bench/resilience.py RAMPART_BIN [--duration SECONDS] (bench/resilience.sh runs it).
Prints a Markdown report on stdout.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

UPSTREAM_DELAY_S = 0.05


class MockServer:
    """An OpenAI-compatible chat server answering after `delay` seconds, on a thread."""

    def __init__(self, name: str, delay: float):
        self.name = name
        self.dead = False
        self.connections = set()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with outer.lock:
                    outer.connections.add(self.connection)

            def finish(self):
                with outer.lock:
                    outer.connections.discard(self.connection)
                super().finish()

            def do_GET(self):
                self._send(200, {"object": "list", "data": []})

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                time.sleep(delay)
                if outer.dead:
                    # A dead host answers nothing: the connection just goes away.
                    self.close_connection = True
                    return
                self._send(200, {
                    "id": "chatcmpl-mock", "object": "chat.completion", "created": 1,
                    "model": body.get("model", ""),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": f"from {outer.name}"},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                })

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def kill(self):
        """Closes the listening socket and cuts every open connection, as a dead host would."""
        self.dead = True
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class MockUpstream:
    """A MockServer in a process of its own (so the load generator's interpreter does not slow
    it down); `kill` is SIGKILL: the port closes and every connection is cut by the kernel."""

    def __init__(self, name: str, delay: float):
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-mock", name, str(delay)],
                                        stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def kill(self):
        self.process.kill()
        self.process.wait()


def serve_mock(name: str, delay: float):
    server = MockServer(name, delay)
    print(server.port, flush=True)
    server.thread.join()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gateway:
    def __init__(self, binary: str, config: str):
        self.dir = tempfile.TemporaryDirectory()
        self.port = free_port()
        path = os.path.join(self.dir.name, "rampart.toml")
        with open(path, "w") as handle:
            handle.write(f'[server]\nlisten = "127.0.0.1:{self.port}"\n[logging]\nlevel = "warn"\n'
                         f'[storage]\ndata_dir = "{self.dir.name}"\n{config}')
        self.log = open(os.path.join(self.dir.name, "rampart.log"), "w")
        self.process = subprocess.Popen([binary, "serve", "--config", path], stdout=subprocess.DEVNULL,
                                        stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("rampart did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        self.dir.cleanup()


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def closed_loop(gateway: Gateway, model: str, clients: int, seconds: float, on_answer=None):
    """`clients` workers each sending one request after another for `seconds`."""
    results = []
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=gateway.base, limits=limits, timeout=30) as client:
        stop_at = time.monotonic() + seconds

        async def worker():
            while time.monotonic() < stop_at:
                started = time.monotonic()
                try:
                    response = await client.post("/v1/chat/completions", json=body)
                    status, backend = response.status_code, response.headers.get("x-rampart-backend", "")
                except httpx.HTTPError as error:
                    status, backend = f"error:{type(error).__name__}", ""
                ended = time.monotonic()
                results.append((started, ended, status, backend))
                if on_answer:
                    on_answer(ended, status, backend)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return results


def overload(binary: str, seconds: float) -> str:
    concurrency, queue = 8, 8
    clients = 3 * (concurrency + queue)
    upstream = MockUpstream("slow", UPSTREAM_DELAY_S)
    gateway = Gateway(binary, f"""
[[backends]]
name = "slow"
kind = "openai"
base_url = "{upstream.url}"
max_concurrency = {concurrency}
max_queue = {queue}
[[models]]
name = "m"
backend = "slow"
""")
    rss = []
    sampling = True

    def sample():
        while sampling:
            rss.append(gateway.rss_mb())
            time.sleep(1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        results = asyncio.run(closed_loop(gateway, "m", clients, seconds))
    finally:
        sampling = False
        sampler.join()
        gateway.stop()
        upstream.kill()
    statuses = {}
    for _, _, status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    admitted = [(end - start) * 1000 for start, end, status, _ in results if status == 200]
    refused = [(end - start) * 1000 for start, end, status, _ in results if status == 429]
    capacity = concurrency / UPSTREAM_DELAY_S
    lines = [
        f"### Overload: {clients} closed-loop clients against a backend of max_concurrency {concurrency}, "
        f"max_queue {queue}, {UPSTREAM_DELAY_S * 1000:.0f} ms per answer (capacity {capacity:.0f} req/s), "
        f"{seconds:.0f} s",
        "",
        "| status | count | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for status, count in sorted(statuses.items(), key=lambda item: str(item[0])):
        latencies = admitted if status == 200 else refused if status == 429 else []
        lines.append(f"| {status} | {count} | {percentile(latencies, 0.5):.1f} | {percentile(latencies, 0.99):.1f} |")
    bad = {status: count for status, count in statuses.items() if status not in (200, 429)}
    lines += [
        "",
        f"- admitted throughput: {len(admitted) / seconds:.0f} req/s of a {capacity:.0f} req/s backend",
        f"- statuses other than 200 and 429: {bad if bad else 'none'}",
        f"- RSS (MB, sampled each second): start {rss[0]:.1f}, max {max(rss):.1f}, end {rss[-1]:.1f}"
        if rss else "- RSS: not sampled",
        "",
    ]
    return "\n".join(lines)


def failover(binary: str, seconds: float) -> str:
    cloud = MockUpstream("cloud", 0.01)
    local = MockUpstream("local", 0.01)
    gateway = Gateway(binary, f"""
[router]
retry_backoff_ms = 10
retry_backoff_max_ms = 50
[router.breaker]
consecutive_failures = 3
open_secs = 600
[[backends]]
name = "cloud"
kind = "openai"
base_url = "{cloud.url}"
connect_timeout_secs = 1
[[backends]]
name = "local"
kind = "openai"
base_url = "{local.url}"
[[models]]
name = "cloud-model"
backend = "cloud"
tier = 2
fallbacks = ["local-model"]
[[models]]
name = "local-model"
backend = "local"
""")
    kill_at = None
    first_fallback = None

    def on_answer(ended, status, backend):
        nonlocal first_fallback
        if kill_at is not None and first_fallback is None and status == 200 and backend == "local":
            first_fallback = ended

    async def run():
        nonlocal kill_at
        load = asyncio.create_task(closed_loop(gateway, "cloud-model", 16, seconds, on_answer))
        await asyncio.sleep(seconds / 3)
        cloud.kill()
        kill_at = time.monotonic()
        return await load

    try:
        results = asyncio.run(run())
        router = httpx.get(f"{gateway.base}/api/v1/router", timeout=5).json()
    finally:
        gateway.stop()
        local.kill()
    failed = [r for r in results if r[2] != 200]
    after_kill = [r for r in results if kill_at is not None and r[0] >= kill_at]
    before = [(e - s) * 1000 for s, e, st, _ in results if kill_at and e < kill_at and st == 200]
    settled = [(e - s) * 1000 for s, e, st, _ in after_kill if st == 200 and s > kill_at + 1]
    cloud_state = next((b for b in router.get("backends", []) if b.get("name") == "cloud"), {})
    lines = [
        f"### Failover: 16 closed-loop clients on a Tier 2 model with a Tier 1 fallback; the Tier 2 upstream "
        f"killed after {seconds / 3:.1f} s of {seconds:.0f} s",
        "",
        f"- requests: {len(results)}, failed: **{len(failed)}**",
        f"- kill → first answer from the fallback: **{(first_fallback - kill_at) * 1000:.1f} ms**"
        if first_fallback and kill_at else "- no answer from the fallback after the kill",
        f"- latency p50 / p99 before the kill: {percentile(before, 0.5):.1f} / {percentile(before, 0.99):.1f} ms; "
        f"from 1 s after it: {percentile(settled, 0.5):.1f} / {percentile(settled, 0.99):.1f} ms",
        f"- the cloud backend's circuit at the end: {cloud_state.get('circuit', '?')}",
        "",
    ]
    return "\n".join(lines)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-mock":
        return serve_mock(sys.argv[2], float(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--duration", type=float, default=20)
    args = parser.parse_args()
    print(overload(args.binary, args.duration))
    print(failover(args.binary, max(6.0, args.duration / 2)))


if __name__ == "__main__":
    sys.exit(main())
