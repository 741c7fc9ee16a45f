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


# The same, with every PostgreSQL process frozen by the chaos SIGSTOP fault when the signal comes.
PAUSED_SCRIPT = """
import sys, time
from soberharness.chaos.faults import PostgresPause
from soberharness.targets.local import LocalTarget
target = LocalTarget()
target.start()
fault = PostgresPause(target.pg)
fault.inject()
print("UP", target.pg.pid, flush=True)
try:
    time.sleep(60)
finally:
    fault.heal()
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


def _states(pids: list[int]) -> list[str]:
    states = []
    for pid in pids:
        try:
            states.append(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
        except OSError:
            continue
    return states


@pytest.mark.needs("postgres")
@pytest.mark.parametrize("paused", [False, True], ids=["running", "mid-sigstop"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["ctrl-c", "sigterm", "sigkill"])
def test_server_does_not_outlive_the_harness(tmp_path: Path, sig: signal.Signals,
                                             paused: bool) -> None:
    """Nothing is left, processes or the soberharness-* folder, however the harness ends, also
    while the SIGSTOP fault has every PostgreSQL process frozen."""
    tmp_path.chmod(0o755)
    env = dict(os.environ, TMPDIR=str(tmp_path))
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSED_SCRIPT if paused else SCRIPT], cwd=REPO, env=env,
        stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("UP"), f"local target did not start: {line!r}"
        running = _processes_under(tmp_path)
        assert running, "the server runs under the child's temp dir"
        if paused:
            assert set(_states(running)) == {"T"}, "the fault froze every server process"
        child.send_signal(sig)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    left = _wait_gone(tmp_path)
    assert left == [], f"left running: {left} in states {_states(left)}"
    deadline = time.monotonic() + 10
    while list(tmp_path.glob("soberharness-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp_path.glob("soberharness-*")) == [], "the temporary folder was left behind"


PAUSING_TEST = """
import time
from soberharness.chaos.faults import PostgresPause

def test_frozen(target):
    PostgresPause(target.pg).inject()
    print("PAUSED", flush=True)
    time.sleep(120)
"""


@pytest.mark.needs("postgres")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_pytest_killed_mid_sigstop_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    """pytest itself killed while the SIGSTOP fault has the server frozen: no process and no
    temporary folder survive it (the watchdog ends them)."""
    tmp_path.chmod(0o755)
    (tmp_path / "test_pausing.py").write_text(PAUSING_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBERHARNESS_", "PYTEST_"))}
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "soberharness.pytest_plugin",
         "-p", "no:cacheprovider", "--report-dir", "reports/latest"],
        cwd=tmp_path, env=env | {"TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout is not None
        seen = []
        for line in child.stdout:
            seen.append(line)
            if "PAUSED" in line:
                break
        assert any("PAUSED" in line for line in seen), "".join(seen)
        frozen = _processes_under(tmp_path)
        assert frozen and set(_states(frozen)) == {"T"}
        child.send_signal(sig)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    left = _wait_gone(tmp_path)
    assert left == [], f"left running: {left} in states {_states(left)}"
    deadline = time.monotonic() + 10
    while list(tmp_path.glob("soberharness-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp_path.glob("soberharness-*")) == [], "the temporary folder was left behind"
