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

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class SecurityRun:
    returncode: int
    summary: dict[str, Any]  # reports/latest/summary.json of the run
    folder: Path  # its run folder, reports/runs/<run id>/
    output: str  # the tail of pytest's output, for assertion messages


def security_run(report_dir: Path, *extra: str, env: dict[str, str] | None = None,
                 run_id: str | None = None) -> SecurityRun:
    """`pytest suites/security` in a subprocess, its reports under `report_dir`."""
    run_id = run_id or f"selftest-{secrets.token_hex(3)}"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/security", "-q", "-p", "no:cacheprovider",
         "--report-dir", str(report_dir), *extra],
        cwd=REPO, env={**os.environ, **(env or {}), "SOBERHARNESS_RUN_ID": run_id},
        capture_output=True, text=True, timeout=600,
    )
    output = proc.stdout[-3000:] + proc.stderr[-2000:]
    summary_file = report_dir / "summary.json"
    assert summary_file.exists(), output
    return SecurityRun(proc.returncode, json.loads(summary_file.read_text()),
                       report_dir.parent / "runs" / run_id, output)


@pytest.fixture(scope="session")
def run_security_suite() -> Callable[..., SecurityRun]:
    """`security_run` for tests (conftest modules are not imported by tests)."""
    return security_run


@pytest.fixture(scope="session")
def stock_security_run(tmp_path_factory: pytest.TempPathFactory) -> SecurityRun:
    """The security suite on the local target with the stack's own migrations, once."""
    base = tmp_path_factory.mktemp("stock-security")
    run = security_run(base / "latest", "--target", "local", run_id="stock")
    assert run.returncode == 0, run.output
    return run
