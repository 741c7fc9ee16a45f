"""A `chaos run` child goes with the harness, also when pytest is SIGKILLed mid-run and the
child's rollbacks hang (issue 22, item 7). The child here is a stand-in for the chaostoolkit
CLI that ignores SIGTERM, as a rollback stuck on a stopped PostgreSQL does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from soberharness.targets import proctree

STUCK_CHAOS = """#!/bin/bash
trap '' TERM
echo $$ > "$PIDFILE"
while :; do sleep 0.2; done
"""

DRIVER = """
import sys
from pathlib import Path
from soberharness.chaos.child import run_chaos
import os
run_chaos([sys.argv[1], "run", "x.json"], timeout=600, env=os.environ, cwd=Path(sys.argv[2]))
"""

REPO = Path(__file__).resolve().parents[2]


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_the_chaos_child_goes_with_a_sigkilled_harness(tmp_path: Path) -> None:
    chaos = tmp_path / "chaos"
    chaos.write_text(STUCK_CHAOS)
    chaos.chmod(0o755)
    pidfile = tmp_path / "chaos.pid"
    env = dict(os.environ, PIDFILE=str(pidfile), PYTHONPATH=str(REPO))
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(chaos), str(tmp_path)],
                              env=env, cwd=tmp_path)
    child = 0
    try:
        assert _wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 30)
        child = int(pidfile.read_text())
        time.sleep(0.5)  # the watchdog has been told
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=10)
        assert _wait_for(lambda: not proctree.is_running(child), 10), \
            "the chaos child outlived the SIGKILLed harness by more than 10 s"
    finally:
        if driver.poll() is None:
            driver.kill()
        if child and proctree.is_running(child):
            os.kill(child, signal.SIGKILL)
