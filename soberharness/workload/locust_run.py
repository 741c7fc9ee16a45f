"""Run a locust file headless as its own process and read back its JSON summary.

Locust monkey-patches the interpreter with gevent when imported, so suites never import it:
they call `run_locust`, which starts `python -m locust` in a new process group with the
secrets in its environment (not on its command line), waits with a deadline, and kills the
whole group if the deadline passes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from soberharness.errors import HarnessError
from soberharness.paths import REPO

LOADTESTS = REPO / "loadtests"
REPORTS = REPO / "reports" / "load"  # where summaries go unless --summary-out says otherwise
# Secrets reach locust through its environment, never its command line.
ENV_JWT_SECRET = "SOBER_LOAD_JWT_SECRET"
ENV_ANON_KEY = "SOBER_LOAD_ANON_KEY"
ENV_SERVICE_KEY = "SOBER_LOAD_SERVICE_KEY"
GRACE_S = 30.0  # locust start-up and shutdown on top of the run time


@dataclasses.dataclass(frozen=True)
class LocustResult:
    exit_code: int
    summary: dict[str, Any] | None
    output: str

    def endpoint(self, name: str) -> dict[str, Any] | None:
        for row in (self.summary or {}).get("endpoints", []):
            if row["name"] == name:
                return row
        return None


def locust_command(locustfile: Path, host: str, users: int, spawn_rate: float, run_time_s: int,
                   summary_out: Path, extra: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "-u", str(users), "-r", str(spawn_rate), "-t", f"{run_time_s}s",
        "--host", host, "--summary-out", str(summary_out), "--only-summary",
        "--stop-timeout", "2", *extra,
    ]


def run_locust(locustfile: Path, host: str, *, users: int, spawn_rate: float, run_time_s: int,
               summary_out: Path, secrets: Mapping[str, str], extra: Sequence[str] = (),
               timeout_s: float | None = None) -> LocustResult:
    """Run locust headless; return its exit code, summary (None if none was written) and
    output. Raises HarnessError if it overruns its deadline (the process group is killed)."""
    summary_out.unlink(missing_ok=True)
    env = dict(os.environ) | dict(secrets)
    env.pop("PYTEST_CURRENT_TEST", None)
    command = locust_command(locustfile, host, users, spawn_rate, run_time_s, summary_out, extra)
    deadline = timeout_s if timeout_s is not None else run_time_s + GRACE_S
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise HarnessError(f"locust {locustfile.name} ran past its {deadline:.0f}s deadline "
                           "and was killed") from None
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    summary = json.loads(summary_out.read_text()) if summary_out.exists() else None
    return LocustResult(proc.returncode, summary, output)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_locust_distributed(locustfile: Path, host: str, *, workers: int, users: int,
                           spawn_rate: float, run_time_s: int, summary_out: Path,
                           secrets: Mapping[str, str], extra: Sequence[str] = (),
                           timeout_s: float | None = None) -> LocustResult:
    """Locust's distributed mode on this machine: one master (headless, writes the summary)
    and `workers` worker processes, all on 127.0.0.1; every process group is killed at the
    deadline or on any error. The result's output is the master's."""
    summary_out.unlink(missing_ok=True)
    env = dict(os.environ) | dict(secrets)
    env.pop("PYTEST_CURRENT_TEST", None)
    port = _free_port()
    master_cmd = [*locust_command(locustfile, host, users, spawn_rate, run_time_s, summary_out,
                                  extra),
                  "--master", "--expect-workers", str(workers), "--master-bind-host",
                  "127.0.0.1", "--master-bind-port", str(port)]
    worker_cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--worker",
                  "--master-host", "127.0.0.1", "--master-port", str(port), "--host", host,
                  *extra]
    deadline = timeout_s if timeout_s is not None else run_time_s + GRACE_S + 30
    procs: list[subprocess.Popen[str]] = []
    try:
        master = subprocess.Popen(master_cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
        procs.append(master)
        for _ in range(workers):
            procs.append(subprocess.Popen(worker_cmd, cwd=REPO, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          text=True, start_new_session=True))
        try:
            output, _ = master.communicate(timeout=deadline)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"distributed locust {locustfile.name} ran past its "
                               f"{deadline:.0f}s deadline and was killed") from None
        for worker in procs[1:]:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    summary = json.loads(summary_out.read_text()) if summary_out.exists() else None
    return LocustResult(master.returncode, summary, output)
