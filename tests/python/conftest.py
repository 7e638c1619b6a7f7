"""Attaches the gateway's log to the report of every failed test that used it."""

from __future__ import annotations

from pathlib import Path

import pytest

LOG_TAIL_LINES = 200


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ARG001
    report = yield
    if report.failed:
        gateway = getattr(item, "funcargs", {}).get("gateway")
        log_path: Path | None = getattr(gateway, "log_path", None)
        if log_path is not None and log_path.exists():
            lines = log_path.read_text(errors="replace").splitlines()
            tail = "\n".join(lines[-LOG_TAIL_LINES:])
            report.sections.append((f"rampart log (last {LOG_TAIL_LINES} lines of {log_path})", tail))
    return report
