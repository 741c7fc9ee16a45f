"""Selftest helpers: the security suite run as a subprocess, and one stock run shared by the
tests that compare runs (the remote code path, the parity report)."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from soberharness.report.run_facts import folder_name, runs_root

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class SecurityRun:
    returncode: int
    summary: dict[str, Any]  # reports/latest/summary.json of the run
    folder: Path  # its run folder (report.run_facts.runs_root: beside or under --report-dir)
    output: str  # the tail of pytest's output, for assertion messages


class PendingRun:
    """A security-suite subprocess started in the background; `wait()` gives its SecurityRun."""

    def __init__(self, report_dir: Path, *extra: str, env: dict[str, str] | None = None,
                 run_id: str | None = None) -> None:
        self.report_dir = report_dir
        self.run_id = run_id or f"selftest-{secrets.token_hex(3)}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "suites/security", "-q", "-p", "no:cacheprovider",
             "--report-dir", str(report_dir), *extra],
            cwd=REPO, env={**os.environ, **(env or {}), "SOBERHARNESS_RUN_ID": self.run_id},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def wait(self, timeout: float = 600) -> SecurityRun:
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        output = stdout[-3000:] + stderr[-2000:]
        summary_file = self.report_dir / "summary.json"
        assert summary_file.exists(), output
        return SecurityRun(self.proc.returncode, json.loads(summary_file.read_text()),
                           runs_root(self.report_dir) / folder_name(self.run_id), output)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def security_run(report_dir: Path, *extra: str, env: dict[str, str] | None = None,
                 run_id: str | None = None) -> SecurityRun:
    """`pytest suites/security` in a subprocess, its reports under `report_dir`."""
    pending = PendingRun(report_dir, *extra, env=env, run_id=run_id)
    try:
        return pending.wait()
    finally:
        pending.stop()


@pytest.fixture(scope="session")
def run_security_suite() -> Callable[..., SecurityRun]:
    """`security_run` for tests (conftest modules are not imported by tests)."""
    return security_run


@pytest.fixture(scope="session")
def start_security_suite() -> Callable[..., PendingRun]:
    """`PendingRun` for tests: start a run, do something else, then `wait()`."""
    return PendingRun


@pytest.fixture(scope="session")
def stock_security_run(tmp_path_factory: pytest.TempPathFactory) -> SecurityRun:
    """The security suite on the local target with the stack's own migrations, once."""
    base = tmp_path_factory.mktemp("stock-security")
    run = security_run(base / "latest", "--target", "local", run_id="stock")
    assert run.returncode == 0, run.output
    return run
