"""A run ended by SIGTERM (a cancelled CI job) is recorded as interrupted and exits 143 quickly
(issue 22, item 5)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from soberharness.testing.pytest_runs import (
    DATABASE_ONLY_TARGET,
    REPO,
    clean_env,
    no_traceback,
    pytest_argv,
    run_summary,
)

SLOW = """
import time
import pytest

@pytest.mark.needs("postgres")
def test_first(target):
    assert target.admin_dsn()

@pytest.mark.needs("postgres")
def test_slow(target):
    print("READY", flush=True)
    time.sleep(120)

def test_never_reached():
    pass
"""


@pytest.mark.needs("postgres")
def test_sigterm_records_the_run_as_interrupted_and_exits_143(tmp_path: Path, target) -> None:
    (tmp_path / "test_slow.py").write_text(SLOW)
    (tmp_path / "database-only.toml").write_text(DATABASE_ONLY_TARGET)
    env = clean_env(tmp_path, OUTER_DSN=target.admin_dsn())
    child = subprocess.Popen(
        pytest_argv("-s", "--target", "database-only.toml", "--report-dir",
                    str(tmp_path / "reports" / "latest")),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout is not None
        seen = []
        for line in child.stdout:
            seen.append(line)
            if "READY" in line:
                break
        assert any("READY" in line for line in seen), "".join(seen)
        child.send_signal(signal.SIGTERM)
        began = time.monotonic()
        rest, _ = child.communicate(timeout=60)
        seconds = time.monotonic() - began
    finally:
        if child.poll() is None:
            child.kill()
    output = "".join(seen) + rest
    assert child.returncode == 143, output
    assert seconds < 20, f"SIGTERM took {seconds:.0f}s to end the run"
    no_traceback(output)
    assert "KeyboardInterrupt" not in output and "Terminated" not in output.replace(
        "terminated", ""), output
    assert sum("soberharness: terminated (SIGTERM)" in line for line in output.splitlines()) == 1
    doc = run_summary(tmp_path)
    assert doc["verdict"] == "interrupted"
    assert "SIGTERM" in doc["stopped_by"]
    assert doc["tests"]["counts"] == {"passed": 1}
    junit = ET.parse(next((tmp_path / "reports" / "runs").glob("*/junit.xml"))).getroot()
    verdicts = [p.get("value") for p in junit.iter("property") if p.get("name") == "verdict"]
    assert verdicts == ["interrupted"]
    assert [f.get("message", "").split(":")[0] for f in junit.iter("failure")] == ["interrupted"]


SLOW_PLUGIN = """
import time
print("IMPORTING", flush=True)
time.sleep(60)
"""


def test_ctrl_c_while_plugins_import_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Issue 22, item 8: the repository's addopts load soberharness.early_interrupt before
    any installed plugin; here a plugin that takes long to import stands for them."""
    addopts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]["addopts"]
    (tmp_path / "pytest.ini").write_text(f"[pytest]\naddopts = {addopts}\n")
    (tmp_path / "slow_plugin.py").write_text(SLOW_PLUGIN)
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    env = clean_env(tmp_path)
    env["PYTHONPATH"] = f"{tmp_path}:{REPO}"
    child = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "slow_plugin", "-q"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert "IMPORTING" in first, first
        child.send_signal(signal.SIGINT)
        rest, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    output = first + rest
    assert child.returncode == 2, output
    no_traceback(output)
    assert "KeyboardInterrupt" not in output, output
    assert [line for line in output.splitlines() if "soberharness:" in line] == [
        "soberharness: interrupted (Ctrl-C) while pytest was starting; nothing was started"]
