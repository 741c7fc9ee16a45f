"""ManagedProcess: real child processes start, become ready, stop, and leave no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from soberharness.errors import TargetUnavailable
from soberharness.targets.services.process import (
    ManagedProcess,
    free_port,
    http_ready,
    tcp_ready,
)


def _pid_exists(pid: int) -> bool:
    """True while `pid` names a process that is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _http_server(tmp_path: Path, port: int, timeout: float = 15.0) -> ManagedProcess:
    return ManagedProcess(
        "http.server",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        env={"PYTHONUNBUFFERED": "1"},
        log_path=tmp_path / "logs" / "http.log",
        ready=http_ready(f"http://127.0.0.1:{port}/"),
        ready_timeout=timeout,
        cwd=tmp_path,
    )


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_start_serves_then_stop_leaves_no_process(tmp_path: Path) -> None:
    port = free_port()
    proc = _http_server(tmp_path, port)
    proc.start()
    pid = proc.pid
    assert pid is not None and proc.alive
    assert os.getpgid(pid) == pid, "the service runs in its own session/process group"
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    code = proc.stop(timeout=5)
    assert code is not None
    assert not proc.alive
    assert not _pid_exists(pid)
    assert not tcp_ready("127.0.0.1", port)()
    assert "http.server" in proc.log_tail(50)
    assert proc.stop() == code, "stop is safe to call twice"


def test_context_manager_stops(tmp_path: Path) -> None:
    port = free_port()
    with _http_server(tmp_path, port) as proc:
        pid = proc.pid
        assert proc.alive
    assert pid is not None and not _pid_exists(pid)


def test_readiness_timeout_raises_with_log_tail(tmp_path: Path) -> None:
    script = "import sys, time; print('warming up the frobnicator', flush=True); time.sleep(60)"
    proc = ManagedProcess(
        "slowpoke",
        [sys.executable, "-c", script],
        env=None,
        log_path=tmp_path / "slow.log",
        ready=lambda: False,
        ready_timeout=1.0,
    )
    with pytest.raises(TargetUnavailable) as info:
        proc.start()
    message = str(info.value)
    assert "slowpoke was not ready within 1 s" in message
    assert "warming up the frobnicator" in message
    assert "\n" not in message
    assert not proc.alive


def test_early_exit_raises_with_exit_code_and_log(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "crasher",
        [sys.executable, "-c", "import sys; print('bad config: no port'); sys.exit(3)"],
        env=None,
        log_path=tmp_path / "crash.log",
        ready=lambda: False,
        ready_timeout=10.0,
    )
    with pytest.raises(TargetUnavailable, match=r"crasher exited with code 3 .*bad config"):
        proc.start()


def test_missing_binary_is_one_line_error(tmp_path: Path) -> None:
    proc = ManagedProcess("ghost", [str(tmp_path / "no-such-binary")], None, tmp_path / "g.log")
    with pytest.raises(TargetUnavailable, match=r"ghost: .*no-such-binary is missing"):
        proc.start()


def test_stop_reaches_a_stopped_process_and_its_children(tmp_path: Path) -> None:
    # A parent that ignores SIGTERM and has a child: stop must escalate and take the group.
    script = textwrap.dedent(
        """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print("CHILD" + "PID", child.pid, flush=True)
        time.sleep(120)
        """
    )
    log = tmp_path / "stubborn.log"
    proc = ManagedProcess(
        "stubborn",
        [sys.executable, "-c", script],
        None,
        log,
        ready=lambda: "CHILDPID " in log.read_text(),
        ready_timeout=10,
    )
    proc.start()
    child_pid = int(proc.log_tail(1).split()[-1])
    proc.signal(signal.SIGSTOP)
    pid = proc.pid
    assert pid is not None
    proc.stop(timeout=0.5)
    assert proc.returncode == -signal.SIGKILL
    assert not _pid_exists(pid)
    deadline = time.monotonic() + 5
    while _pid_exists(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_exists(child_pid), "the service's own children are stopped too"


def test_signal_sigkill_is_seen_as_dead(tmp_path: Path) -> None:
    port = free_port()
    proc = _http_server(tmp_path, port).start()
    proc.signal(signal.SIGKILL)
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert not proc.alive
    proc.stop()


def test_child_dies_when_the_harness_dies(tmp_path: Path) -> None:
    # A throwaway "harness" python starts a service and is then SIGKILLed: no orphan remains.
    port = free_port()
    pidfile = tmp_path / "service.pid"
    harness = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from soberharness.targets.services.process import ManagedProcess, http_ready
        p = ManagedProcess("http", [sys.executable, "-m", "http.server", "{port}",
                                     "--bind", "127.0.0.1"], None, {str(tmp_path / "h.log")!r},
                           ready=http_ready("http://127.0.0.1:{port}/"), ready_timeout=15)
        p.start()
        Path({str(pidfile)!r}).write_text(str(p.pid))
        time.sleep(120)
        """
    )
    outer = subprocess.Popen([sys.executable, "-c", harness])
    try:
        deadline = time.monotonic() + 20
        while not pidfile.exists() and time.monotonic() < deadline and outer.poll() is None:
            time.sleep(0.05)
        assert pidfile.exists(), "the throwaway harness did not start its service"
        service_pid = int(pidfile.read_text())
        assert _pid_exists(service_pid)
        outer.kill()
        outer.wait(timeout=5)
        deadline = time.monotonic() + 5
        while _pid_exists(service_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _pid_exists(service_pid), "PR_SET_PDEATHSIG should have killed the service"
    finally:
        if outer.poll() is None:
            outer.kill()
            outer.wait()


def test_run_as_drops_to_another_account(tmp_path: Path) -> None:
    import pwd

    if os.geteuid() != 0:
        pytest.skip("run_as needs root: the harness is not running as root")
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no 'postgres' account to switch to (install postgresql-15)")
    log = tmp_path / "whoami.log"
    proc = ManagedProcess(
        "whoami",
        ["/bin/sh", "-c", "echo uid $(id -u)"],
        None,
        log,
        run_as=account,
    )
    proc.start()
    assert proc.wait(timeout=10) == 0
    assert f"uid {account.pw_uid}" in proc.log_tail(5)
