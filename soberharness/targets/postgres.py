"""A private PostgreSQL server in a directory of its own, started as a child process."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg

from soberharness.db import session as db_session
from soberharness.errors import HarnessError, TargetUnavailable
from soberharness.targets import proctree
from soberharness.targets.lifecycle import preexec_as, register_cleanup
from soberharness.targets.services.process import free_port
from soberharness.targets.watchdog import WATCHDOG

SUPERUSER = "supabase_admin"
MIN_MAJOR = 15

# Settings for a throwaway test server: durable enough for chaos runs to choose
# their own, fast for everything else.
FAST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "logical",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "max_replication_slots": "10",
    "max_wal_senders": "10",
}


def find_bindir() -> Path:
    """Where PostgreSQL's server programs are: $SOBERHARNESS_PG_BINDIR, else the newest."""
    override = os.environ.get("SOBERHARNESS_PG_BINDIR")
    if override:
        path = Path(override)
        if not (path / "postgres").exists():
            raise HarnessError(f"SOBERHARNESS_PG_BINDIR={override} holds no 'postgres' program")
        return path
    candidates: list[tuple[int, Path]] = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        match = re.fullmatch(r"\d+", bindir.parent.name)
        if match and (bindir / "postgres").exists():
            candidates.append((int(bindir.parent.name), bindir))
    on_path = shutil.which("pg_config")
    if on_path:
        out = subprocess.run([on_path, "--bindir"], capture_output=True, text=True, timeout=10)
        version = subprocess.run([on_path, "--version"], capture_output=True, text=True, timeout=10)
        found = re.search(r"(\d+)", version.stdout)
        bindir = Path(out.stdout.strip())
        if found and (bindir / "postgres").exists():
            candidates.append((int(found.group(1)), bindir))
    usable = sorted(c for c in candidates if c[0] >= MIN_MAJOR)
    if not usable:
        raise HarnessError(
            f"no PostgreSQL {MIN_MAJOR}+ server is installed: run scripts/setup.sh "
            "(it installs postgresql-15) or set SOBERHARNESS_PG_BINDIR"
        )
    return usable[-1][1]


def server_account() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, run it as an unprivileged account.

    The account is $SOBERHARNESS_PG_USER, else `postgres` (created by Debian's server package).
    """
    if os.geteuid() != 0:
        return None
    name = os.environ.get("SOBERHARNESS_PG_USER", "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise HarnessError(
            f"running as root and there is no '{name}' account to run PostgreSQL as: "
            "run scripts/setup.sh or set SOBERHARNESS_PG_USER"
        ) from None


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# A Unix socket's path holds at most 107 bytes (sun_path); the server's lock file beside its
# socket is <dir>/.s.PGSQL.<port>.lock. A deep temporary folder (TMPDIR inside a test's
# tmp_path, say) leaves no room, and the server then fails to start.
SUN_PATH_MAX = 107
SOCKET_FILE = len("/.s.PGSQL.65535.lock")
SHORT_TMP = Path("/tmp")


def socket_dir(root: Path) -> Path:
    """`root`/sock, or a short `soberharness-*` folder in /tmp when that path is too long for
    a Unix socket (removed at exit, and by the watchdog if the harness is killed)."""
    candidate = root / "sock"
    if len(os.fsencode(candidate)) + SOCKET_FILE <= SUN_PATH_MAX:
        return candidate
    from soberharness.targets import workdirs

    short = workdirs.make_workdir(SHORT_TMP)
    register_cleanup(lambda: workdirs.remove_workdir(short))
    return short


class PostgresServer:
    """One PostgreSQL cluster under `root`, listening on 127.0.0.1:`port`.

    Runs `postgres` in the foreground as a child process (its own session, killed
    with this process if it dies), so stopping is ours: `stop()` asks for a fast
    shutdown and escalates to SIGKILL.
    """

    def __init__(
        self,
        root: Path,
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
        bindir: Path | None = None,
        client_options: str = "",
    ) -> None:
        self.root = root
        # libpq options the harness's own sessions add (e.g. sslmode and sslrootcert when the
        # server's pg_hba.conf refuses plain connections).
        self.client_options = client_options
        self.data = root / "data"
        self.sockets = socket_dir(root)
        self.log_path = root / "postgres.log"
        self.bindir = bindir or find_bindir()
        if port is not None and port_taken(port):
            raise HarnessError(f"port {port} on 127.0.0.1 is taken: choose another or omit it")
        self.port = port or free_port()
        self.settings = dict(FAST_SETTINGS)
        self.settings.update(settings or {})
        self.account = server_account()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: object | None = None

    def _give_to_account(self, *paths: Path) -> None:
        if self.account is None:
            return
        # The account must be able to traverse down to its directory (a mkdtemp parent is 0700).
        for parent in self.root.parents:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
        for path in paths:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    # -- lifecycle -------------------------------------------------------------------
    def init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        self.data.mkdir(mode=0o700, exist_ok=True)
        self._give_to_account(self.root, self.sockets, self.data)
        result = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D", str(self.data),
                "-U", SUPERUSER,
                "-A", "trust",
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=preexec_as(self.account, None),
            cwd=self.root,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-4:]
            raise TargetUnavailable(f"initdb failed in {self.data}: {' '.join(tail)}")

    def start(self, timeout: float = 30.0) -> None:
        if self.alive:
            return
        self.init()
        argv = [
            str(self.bindir / "postgres"),
            "-D", str(self.data),
            "-p", str(self.port),
            "-k", str(self.sockets),
            "-c", "listen_addresses=127.0.0.1",
        ]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the server
        self._log = log
        self._give_to_account(self.log_path)
        self._proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            # SIGQUIT is the postmaster's immediate shutdown: it takes its backends too.
            preexec_fn=preexec_as(self.account, signal.SIGQUIT),
            cwd=self.root,
        )
        register_cleanup(self.stop)
        # If the harness dies without stopping it (SIGKILL, even mid-SIGSTOP fault), the
        # watchdog resumes the server's processes and ends them.
        WATCHDOG.watch_process(self._proc.pid, signal.SIGQUIT)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise TargetUnavailable(
                    f"postgres exited with code {self._proc.returncode}: {self.log_tail()}"
                )
            try:
                with db_session.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.05)
        self.stop()
        raise TargetUnavailable(f"postgres not ready after {timeout:.0f}s: {self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            processes = proctree.tree(proc.pid)
            # A chaos fault may have left any of them stopped: resume all, or the postmaster
            # waits for stopped children forever.
            proctree.signal_all(processes, signal.SIGCONT)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                processes += proctree.tree(proc.pid)
                proctree.signal_all(processes, signal.SIGKILL)
                proc.wait(5)
            left = [p for p in processes[1:] if proctree.is_running(p)]
            proctree.signal_all(left, signal.SIGCONT)
            proctree.signal_all(left, signal.SIGKILL)
        WATCHDOG.forget_process(proc.pid)
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal to the postmaster (chaos: SIGKILL, SIGSTOP, SIGCONT)."""
        if self._proc is None:
            raise TargetUnavailable("postgres is not running")
        self._proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self._proc.wait(10)
            WATCHDOG.forget_process(self._proc.pid)
            self._proc = None
            # Children of a killed postmaster exit on their own once they notice;
            # give them a moment so a restart finds the shared memory free.
            time.sleep(0.2)

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(text[-lines:])

    # -- databases -------------------------------------------------------------------
    def dsn(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        dsn = f"host=127.0.0.1 port={self.port} dbname={database} user={user} connect_timeout=10"
        return f"{dsn} {self.client_options}".rstrip()

    @contextlib.contextmanager
    def admin(self, database: str = "postgres") -> Iterator[psycopg.Connection]:
        with db_session.connect(self.dsn(database), autocommit=True) as conn:
            yield conn

    def create_database(self, name: str, template: str | None = None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
