"""Start, watch and stop one real service process without leaving orphans.

A ManagedProcess runs its command in a new session (its own process group) with its output in a
log file. The child asks the kernel for SIGKILL when the thread that started it dies
(PR_SET_PDEATHSIG), so nothing outlives a crashed harness; `stop()` sends SIGTERM to the group,
waits, then SIGKILL. Readiness is a caller-given probe polled until a bounded timeout; failures
raise TargetUnavailable with one line naming the service and the tail of its log.

Note on PR_SET_PDEATHSIG: it fires when the *thread* that forked the child exits, so start
long-lived services from a thread that lives as long as they should (the main thread in pytest).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

import httpx

from soberharness.errors import TargetUnavailable
from soberharness.targets.lifecycle import preexec_as

_LIVE: weakref.WeakSet[ManagedProcess] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def http_ready(url: str, timeout: float = 1.0, ok: Callable[[int], bool] | None = None
               ) -> Callable[[], bool]:
    """A readiness probe: GET `url` answers with a status `ok` accepts (default: 2xx)."""
    accept = ok or (lambda status: 200 <= status < 300)

    def probe() -> bool:
        try:
            response = httpx.get(url, timeout=timeout)
        except httpx.HTTPError:
            return False
        return accept(response.status_code)

    return probe


def tcp_ready(host: str, port: int, timeout: float = 0.5) -> Callable[[], bool]:
    """A readiness probe: something accepts TCP connections on host:port."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            return False

    return probe


def _one_line(text: str, limit: int = 600) -> str:
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else "…" + flat[-limit:]


class ManagedProcess:
    """One service process: `start()` (waits until ready), `stop()`, `signal()`, `log_tail()`.

    `env` is laid over the current environment unless `inherit_env` is False. `run_as` runs it
    as another account (PostgreSQL refuses root); `death_signal` is what the kernel sends it if
    the harness dies (SIGKILL; PostgreSQL prefers SIGQUIT, which takes its backends too).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        log_path: str | os.PathLike[str],
        ready: Callable[[], bool] | None = None,
        ready_timeout: float = 30.0,
        *,
        cwd: str | os.PathLike[str] | None = None,
        inherit_env: bool = True,
        poll_interval: float = 0.1,
        run_as: pwd.struct_passwd | None = None,
        death_signal: int = signal.SIGKILL,
    ) -> None:
        if not argv:
            raise ValueError("argv must name a program")
        self.name = name
        self.argv = [str(a) for a in argv]
        self.env = dict(env or {})
        self.log_path = Path(log_path)
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.cwd = cwd
        self.inherit_env = inherit_env
        self.poll_interval = poll_interval
        self.run_as = run_as
        self.death_signal = death_signal
        self._popen: subprocess.Popen[bytes] | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def alive(self) -> bool:
        """True while the process exists and has not exited (a SIGSTOPped process is alive)."""
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def log_tail(self, n: int = 20) -> str:
        """The last `n` lines of the log file ('' when there is none yet)."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 64 * 1024))
                data = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-n:])

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> ManagedProcess:
        """Launch the process and wait until `ready()` is true. Idempotent while alive."""
        if self.alive:
            return self
        program = self.argv[0]
        if os.sep in program and not os.access(program, os.X_OK):
            raise TargetUnavailable(f"{self.name}: {program} is missing or not executable")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env} if self.inherit_env else dict(self.env)
        preexec = preexec_as(self.run_as, self.death_signal)
        if self.run_as is not None and not self.log_path.exists():
            self.log_path.touch()
            os.chown(self.log_path, self.run_as.pw_uid, self.run_as.pw_gid)
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    env=env,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=preexec,
                )
            except OSError as exc:
                raise TargetUnavailable(f"{self.name}: cannot run {program}: {exc}") from None
        with _LIVE_LOCK:
            _LIVE.add(self)
        _install_signal_cleanup()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        if self.ready is None:
            return
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not self.alive:
                code = self.returncode
                self.stop()
                raise TargetUnavailable(
                    f"{self.name} exited with code {code} before it was ready; log "
                    f"{self.log_path}: {_one_line(self.log_tail())}"
                )
            if self.ready():
                return
            if time.monotonic() >= deadline:
                self.stop()
                raise TargetUnavailable(
                    f"{self.name} was not ready within {self.ready_timeout:g} s; log "
                    f"{self.log_path}: {_one_line(self.log_tail())}"
                )
            time.sleep(self.poll_interval)

    def signal(self, sig: int, *, group: bool = False) -> None:
        """Send `sig` to the process (or its whole process group). No-op once it has exited."""
        if not self.alive or self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self._popen.pid, sig)
            else:
                os.kill(self._popen.pid, sig)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the process to exit; its return code, or None on timeout."""
        if self._popen is None:
            return None
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group (waking it if stopped), wait `timeout`, then SIGKILL.

        Returns the exit code (None if it was never started). Safe to call twice.
        """
        popen = self._popen
        if popen is None:
            return None
        if popen.poll() is None:
            self._kill_group(signal.SIGTERM)
            self._kill_group(signal.SIGCONT)  # a SIGSTOPped process handles SIGTERM only now
            try:
                popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_group(signal.SIGKILL)
                popen.wait(timeout=10)
        # children left in the group (a service's workers) go too
        self._kill_group(signal.SIGKILL)
        with _LIVE_LOCK:
            _LIVE.discard(self)
        return popen.returncode

    def _kill_group(self, sig: int) -> None:
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "alive" if self.alive else f"exited {self.returncode}" if self._popen else "new"
        return f"ManagedProcess({self.name!r}, pid={self.pid}, {state})"


def _install_signal_cleanup() -> None:
    """Also stop live processes when the harness gets SIGTERM/SIGHUP (via target.lifecycle)."""
    from soberharness.targets.lifecycle import register_cleanup

    register_cleanup(_stop_all_at_exit)


@atexit.register
def _stop_all_at_exit() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        with contextlib.suppress(Exception):
            proc.stop(timeout=3)


class _Closable(Protocol):
    def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Closable)


class HttpService(Generic[ClientT]):
    """A ManagedProcess with an HTTP API and a client for it, made on first use.

    Subclasses set `workdir`, `process` and `url`, and say how to make the client.
    """

    workdir: Path
    process: ManagedProcess
    _client: ClientT | None = None

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _make_client(self) -> ClientT:
        raise NotImplementedError

    @property
    def client(self) -> ClientT:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.process.stop(timeout)
