"""Nothing the local target starts outlives the harness: Ctrl-C, SIGTERM or SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys, time
from soberharness.targets.local import LocalTarget
target = LocalTarget()
target.start()
print("UP", target.pg.pid, flush=True)
try:
    time.sleep(60)
finally:
    target.stop()
"""


def _processes_under(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in cmdline:
            found.append(int(entry.name))
    return found


def _wait_gone(folder: Path, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = _processes_under(folder)
        if not left:
            return []
        time.sleep(0.1)
    return _processes_under(folder)


@pytest.mark.needs("postgres")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["ctrl-c", "sigterm", "sigkill"])
def test_server_does_not_outlive_the_harness(tmp_path: Path, sig: signal.Signals) -> None:
    tmp_path.chmod(0o755)
    env = dict(os.environ, TMPDIR=str(tmp_path))
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("UP"), f"local target did not start: {line!r}"
        assert _processes_under(tmp_path), "the server runs under the child's temp dir"
        child.send_signal(sig)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert _wait_gone(tmp_path) == []
