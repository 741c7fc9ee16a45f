"""Headless Chromium leaves nothing behind when it overruns its timeout: its renderer, GPU and
zygote children die with it (review finding A). The browser here is a stand-in executable
that forks a child and sleeps, as Chromium's main process does while a page never finishes
loading; the planted defect is the old `subprocess.run(..., timeout=...)`, which kills the
main process only and leaves the child running."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from soberharness.testing import browser

STAND_IN = """#!/bin/bash
sleep 300 &
echo "$$ $!" > "$PIDFILE"
sleep 300
"""


def _group(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            found.append(int(entry))
    return found


def _group_after(pgid: int, seconds: float = 3.0) -> list[int]:
    """The group once a SIGKILL sent to it has had `seconds` to take effect."""
    deadline = time.monotonic() + seconds
    while (left := _group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _stand_in(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "chromium"
    script.write_text(STAND_IN)
    script.chmod(0o755)
    return script, tmp_path / "pids"


def _pids(pidfile: Path) -> tuple[int, int]:
    leader, child = pidfile.read_text().split()
    return int(leader), int(child)


def test_a_timed_out_browser_leaves_no_process_of_its_group(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script, pidfile = _stand_in(tmp_path)
    monkeypatch.setenv("PIDFILE", str(pidfile))
    monkeypatch.setattr(browser, "chromium", lambda: str(script))
    monkeypatch.setattr(browser, "TIMEOUT_S", 1.0)
    page = tmp_path / "page.html"
    page.write_text("<html><body>never loads</body></html>")
    with pytest.raises(subprocess.TimeoutExpired):
        browser.screenshot(page, tmp_path / "shot.png")
    leader, _child = _pids(pidfile)
    assert leader != os.getpgid(0), "the browser ran in a process group of its own"
    assert _group_after(leader) == [], "processes of the browser's group outlived its timeout"


def test_planted_plain_run_leaves_the_child_behind(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: the old way (kill the main process only) leaves the child."""
    script, pidfile = _stand_in(tmp_path)
    monkeypatch.setenv("PIDFILE", str(pidfile))
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([str(script)], capture_output=True, timeout=1.0, check=False,
                       start_new_session=True)  # its own group only so this test can clean up
    leader, child = _pids(pidfile)
    try:
        assert child in _group(leader), "the planted defect left the browser's child running"
    finally:
        os.killpg(leader, signal.SIGKILL)
        _group_after(leader)
