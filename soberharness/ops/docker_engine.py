"""A Docker engine of the run's own: Debian's `dockerd` started by the harness, everything of it
(socket, pid file, data and exec roots, config, log) in one `soberharness-*` work folder, so it
never meets the system's engine or another run's.

It runs as PID 1 of a PID and mount namespace of its own (`unshare --pid --mount --fork
--kill-child`): when it exits, whatever it started (containerd, the shims, the containers'
processes, docker-proxy) is ended by the kernel, and its overlay mounts go with the namespace.
Stopping is by PID: SIGTERM (dockerd stops its containers), then SIGKILL after a grace; the
watchdog does the same if the harness is killed, and the dead-run sweep removes the folder.
No iptables rules and no default bridge: containers meet on the target's own network, and
ports are published on 127.0.0.1 by docker-proxy. User networks take their subnets from a /16
no route of this machine and no other live engine of ours uses (several may run at once); the
bridges a killed engine left in this machine's network namespace are removed when the next
engine starts (ops/docker_network.py).

    with DockerEngine() as engine:
        engine.address   # unix:///tmp/soberharness-xxxx/docker.sock (for DOCKER_HOST)
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from soberharness.errors import TargetUnavailable
from soberharness.ops.docker_network import (
    ROUTES,
    free_pool,
    record_pool,
    recorded_pools,
    release_pool,
    remove_stale_bridges,
    routed_networks,
)
from soberharness.targets import proctree, workdirs
from soberharness.targets.containers import check_engine
from soberharness.targets.lifecycle import preexec_as, register_cleanup
from soberharness.targets.watchdog import WATCHDOG

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 25.0


def dockerd_argv(dockerd: str, work: Path, pool: str) -> list[str]:
    """dockerd with every path in `work` and no host-wide side effect it can avoid."""
    return [
        dockerd,
        "--config-file", str(work / "daemon.json"),
        "--host", f"unix://{work / 'docker.sock'}",
        "--pidfile", str(work / "dockerd.pid"),
        "--data-root", str(work / "data"),
        "--exec-root", str(work / "exec"),
        "--bridge", "none",
        "--iptables=false",
        "--ip-masq=false",
        "--userland-proxy=true",
        "--default-address-pool", f"base={pool},size=24",
        "--log-level", "warn",
    ]


def namespaced(argv: list[str]) -> list[str]:
    """`argv` as PID 1 of new PID and mount namespaces, killed if `unshare` dies."""
    return ["unshare", "--pid", "--mount", "--propagation", "private", "--fork", "--mount-proc",
            "--kill-child", *argv]


def why_no_engine() -> str | None:
    """None when this machine can start an engine, else one line saying what is missing."""
    if os.geteuid() != 0:
        return "starting a Docker engine needs root (dockerd and its namespaces); run as root"
    if shutil.which("dockerd") is None:
        return "dockerd is not installed: run scripts/setup.sh (it installs Debian's docker.io)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    return None


def in_ci(environ: Mapping[str, str]) -> bool:
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def when_no_engine(reason: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """What a test does when no engine can start: ("fail", line) in CI, where setup installed
    Debian's docker.io and an engine must run, else ("skip", line)."""
    if in_ci(environ):
        return "fail", f"CI needs a Docker engine and none could start: {reason}"
    return "skip", f"no Docker engine here: {reason}"


class DockerEngine:
    """One private dockerd; `start()` waits until it answers, `stop()` ends it and its folder."""

    def __init__(self, parent: Path | None = None, timeout_s: float = START_TIMEOUT_S) -> None:
        self.parent = parent
        self.timeout_s = timeout_s
        self.work: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._dockerd_pid: int | None = None
        self._pool: str | None = None  # the address pool recorded to this engine

    @property
    def address(self) -> str:
        if self.work is None:
            raise TargetUnavailable("the Docker engine is not started")
        return f"unix://{self.work / 'docker.sock'}"

    @property
    def pid(self) -> int | None:
        """dockerd's PID (as this machine sees it)."""
        return self._dockerd_pid

    def log_tail(self, lines: int = 3) -> str:
        if self.work is None:
            return "(no log)"
        try:
            text = (self.work / "dockerd.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text[-lines:]) or "(empty log)"

    def start(self) -> None:
        if self._proc is not None:
            return
        reason = why_no_engine()
        if reason:
            raise TargetUnavailable(f"no Docker engine: {reason}")
        work = self.work = workdirs.make_workdir(self.parent)
        (work / "daemon.json").write_text(json.dumps({}) + "\n")
        remove_stale_bridges()
        live, _ = recorded_pools()
        taken = [ipaddress.IPv4Network(p) for p in live]  # no network made yet
        pool = free_pool(routed_networks(ROUTES.read_text()) + taken)
        record_pool(pool)
        self._pool = pool
        argv = namespaced(dockerd_argv(str(shutil.which("dockerd")), work, pool))
        with open(work / "dockerd.log", "ab") as log:
            self._proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=work, start_new_session=True,
                # the harness dies: unshare dies, and --kill-child takes dockerd's namespace
                preexec_fn=preexec_as(None, signal.SIGKILL),
            )
        register_cleanup(self.stop)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                tail = self.log_tail()
                self.stop()
                raise TargetUnavailable(f"dockerd exited with code {code}: {tail}")
            if self._dockerd_pid is None:
                children = proctree.children_of(self._proc.pid)
                if children:
                    self._dockerd_pid = children[0]
                    WATCHDOG.watch_process(children[0], signal.SIGTERM)
            with contextlib.suppress(TargetUnavailable):
                check_engine(self.address, timeout_s=1.0)
                return
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise TargetUnavailable(f"dockerd did not answer within {self.timeout_s:.0f}s: {tail}")

    def stop(self) -> None:
        """SIGTERM to dockerd (it stops its containers), SIGKILL after STOP_TIMEOUT_S; then the
        folder goes. Safe to repeat."""
        proc, self._proc = self._proc, None
        if proc is not None:
            dockerd = self._dockerd_pid
            if dockerd is not None and proctree.is_running(dockerd):
                proctree.signal_all([dockerd], signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S if dockerd is not None else 0.5)
            except subprocess.TimeoutExpired:
                left = proctree.tree(proc.pid)
                proctree.signal_all(left, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)  # SIGKILLed: gone, or the watchdog ends it
            if dockerd is not None:
                WATCHDOG.forget_process(dockerd)
            self._dockerd_pid = None
        if self._pool is not None:
            release_pool(self._pool)
            self._pool = None
        if self.work is not None:
            workdirs.remove_workdir(self.work)
            self.work = None

    def __enter__(self) -> DockerEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
