"""The sweep of temporary folders: only dead runs' `soberharness-*` folders go, never a live
run's (several sessions share the machine), never one that names no owner."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from soberharness.targets import proctree
from soberharness.targets.workdirs import OWNER_FILE, make_workdir, sweep_dead_workdirs


def _folder(root: Path, name: str, owner: str | None) -> Path:
    path = root / f"soberharness-{name}"
    (path / "pg").mkdir(parents=True)
    (path / "pg" / "data").write_text("82 MB of a server's files")
    if owner is not None:
        (path / OWNER_FILE).write_text(owner)
    return path


def _wait_exec(pid: int, arg: str, seconds: float = 10.0) -> bool:
    """Whether `pid`'s command line shows `arg` within `seconds` (its execve has finished)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if arg.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        time.sleep(0.01)
    return False


def test_sweep_removes_dead_runs_folders_only(tmp_path: Path) -> None:
    gone = subprocess.Popen(["sleep", "30"])
    gone_started = proctree.start_time(gone.pid)
    gone.kill()
    gone.wait()
    me = f"{os.getpid()} {proctree.start_time(os.getpid())}"
    dead = _folder(tmp_path, "dead", f"{gone.pid} {gone_started}")
    reused = _folder(tmp_path, "reused-pid", f"{os.getpid()} 1")  # same pid, other process
    live = _folder(tmp_path, "live", me)
    foreign = _folder(tmp_path, "no-owner", None)
    other_name = tmp_path / "unrelated"
    other_name.mkdir()
    # a server the dead run left running out of its folder
    left_running = subprocess.Popen(["sh", "-c", "sleep 300; true", str(dead / "pg")])
    try:
        # A dead run's server has long been running; this one may still be inside execve (the
        # parent resumes before the child's command line is set up: /proc shows it empty).
        assert _wait_exec(left_running.pid, str(dead / "pg")), "the leftover never started"
        removed = sweep_dead_workdirs(tmp_path)
        assert left_running.wait(10) == -9, "the dead run's leftover process was not killed"
    finally:
        if left_running.poll() is None:
            proctree.signal_all(proctree.tree(left_running.pid), 9)
            left_running.wait(10)
    assert sorted(removed) == sorted([dead, reused])
    assert not dead.exists() and not reused.exists()
    assert live.exists() and foreign.exists() and other_name.exists()


def test_a_new_workdir_names_its_owner(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    path = make_workdir()
    try:
        assert path.parent == tmp_path and path.name.startswith("soberharness-")
        pid, started = (path / OWNER_FILE).read_text().split()
        assert int(pid) == os.getpid() and int(started) == proctree.start_time(os.getpid())
        assert sweep_dead_workdirs(tmp_path) == [] and path.exists()
    finally:
        shutil.rmtree(path, ignore_errors=True)
