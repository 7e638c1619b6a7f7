"""Starts the real rampart binary against a fake upstream, for the end-to-end tests.

The binary is $RAMPART_BIN, else <repo>/target/debug/rampart. Each suite writes its own config
(a function of the listen address, the fake upstream and a data directory); the gateway runs
on a free port until the context ends, with its log in a file the report shows on failure
(conftest.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from fake_upstream import FakeUpstream

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "rampart"
STARTUP_TIMEOUT_SECS = 30

ConfigWriter = Callable[[Path, str, FakeUpstream, Path], None]
"""Writes the config file: (path, listen address, fake upstream, data directory)."""


@dataclass
class Gateway:
    addr: str
    process: subprocess.Popen[bytes]
    upstream: FakeUpstream
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.addr}/v1"

    def url(self, path: str = "/") -> str:
        return f"http://{self.addr}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_live(gateway: Gateway) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECS
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"http://{gateway.addr}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    code = gateway.process.poll()
    state = f"exited with code {code}" if code is not None else f"not live after {STARTUP_TIMEOUT_SECS} s"
    raise RuntimeError(f"rampart did not start ({state}); its log:\n{gateway.log()}")


@contextmanager
def running_gateway(workdir: Path, write_config: ConfigWriter) -> Iterator[Gateway]:
    """A fake upstream and `rampart serve` configured by `write_config`, both stopped at exit."""
    binary = Path(os.environ.get("RAMPART_BIN") or DEFAULT_BIN)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.exit(
            f"rampart binary not found at {binary}: build it with `cargo build -p rampart` "
            "or set RAMPART_BIN",
            returncode=2,
        )
    upstream = FakeUpstream()
    config_path = workdir / "rampart.toml"
    addr = f"127.0.0.1:{free_port()}"
    write_config(config_path, addr, upstream, workdir / "data")
    log_path = workdir / "rampart.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAMPART_")}
    env["RAMPART_LOG"] = "info"
    env["NO_COLOR"] = "1"  # the log goes to a file: no ANSI colour codes in it
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary), "serve", "--config", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
        )
    gateway = Gateway(addr=addr, process=process, upstream=upstream, log_path=log_path)
    try:
        wait_until_live(gateway)
        yield gateway
    finally:
        process.kill()
        process.wait(timeout=10)
        upstream.stop()
