"""Streaming replication on the local target: standbys made with pg_basebackup, their state,
promotion, and whether a server takes writes (the split-brain check)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from soberharness.chaos.stack import CLEAN
from soberharness.db import session as db_session
from soberharness.dr.tools import give_to_server, pg_program, run
from soberharness.errors import HarnessError
from soberharness.targets.postgres import SUPERUSER, PostgresServer

# Every server of a replicated drill: durable, and able to be rewound (pg_rewind needs the
# hint bits WAL-logged on the server it rewinds) and to serve reads while a standby.
REPLICATED: dict[str, str] = {
    **CLEAN,
    "wal_level": "replica",
    "wal_log_hints": "on",
    "hot_standby": "on",
    "wal_keep_size": "256MB",
    "wal_receiver_status_interval": "1s",
    "max_connections": "100",
    "shared_buffers": "32MB",
}

# What must also be in postgresql.conf (not only on the command line): pg_rewind runs the
# server in single-user mode to finish crash recovery, with the config files alone.
# It also removes WAL then, unless told to keep it: pg_rewind reads the old primary's WAL back
# to the last checkpoint before the timelines diverged.
REWINDABLE = {"wal_log_hints": "on", "wal_level": "replica", "full_page_writes": "on",
              "wal_keep_size": "256MB"}


def persist_settings(server: PostgresServer, settings: Mapping[str, str]) -> None:
    """Append settings to the server's postgresql.conf (pg_basebackup copies it to standbys)."""
    lines = "".join(f"{key} = '{value}'\n" for key, value in settings.items())
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write("# soberharness drill\n" + lines)


def conninfo_of(server: PostgresServer, application_name: str) -> str:
    return (f"host=127.0.0.1 port={server.port} user={SUPERUSER} "
            f"application_name={application_name}")


def make_standby(primary: PostgresServer, root: Path, name: str,
                 settings: Mapping[str, str] | None = None) -> PostgresServer:
    """A streaming standby of `primary` named `name` (its application_name), started."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sock").mkdir(exist_ok=True)
    give_to_server(root, root / "sock")
    standby = PostgresServer(root, settings={**REPLICATED, **(settings or {}),
                                             "primary_conninfo": conninfo_of(primary, name)})
    ran = run([str(pg_program("pg_basebackup")), "-D", str(standby.data), "-h", "127.0.0.1",
               "-p", str(primary.port), "-U", SUPERUSER, "-X", "stream", "-c", "fast",
               "--no-sync"], timeout=120)
    if not ran.ok:
        raise HarnessError(f"pg_basebackup for standby {name} failed: {ran.tail()}")
    (standby.data / "standby.signal").touch()
    give_to_server(standby.data / "standby.signal")
    standby.start()
    return standby


def query(server: PostgresServer, statement: str, params: Sequence[Any] = (),
          database: str = "postgres", timeout: int = 5) -> list[tuple[Any, ...]]:
    with db_session.connect(server.dsn(database), autocommit=True, connect_timeout=timeout) as conn:
        conn.execute(f"SET statement_timeout = {timeout * 1000}")
        return list(conn.execute(statement, params).fetchall())  # type: ignore[arg-type]


def in_recovery(server: PostgresServer) -> bool:
    return bool(query(server, "SELECT pg_is_in_recovery()")[0][0])


@dataclasses.dataclass
class ReplicaState:
    name: str
    state: str
    sync_state: str
    lag_bytes: int  # the primary's current WAL position minus what the standby replayed
    replay_lag_seconds: float | None

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def replication(primary: PostgresServer) -> list[ReplicaState]:
    rows = query(primary, """
        SELECT application_name, state, sync_state,
               coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1)::bigint,
               extract(epoch FROM replay_lag)::float8
        FROM pg_stat_replication ORDER BY application_name""")
    return [ReplicaState(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]


def wait_streaming(primary: PostgresServer, names: Sequence[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    seen: list[ReplicaState] = []
    while time.monotonic() < deadline:
        seen = replication(primary)
        if {s.name for s in seen if s.state == "streaming"} >= set(names):
            return
        time.sleep(0.1)
    raise HarnessError(f"standbys {list(names)} not streaming after {timeout:.0f}s: "
                       f"{[(s.name, s.state) for s in seen]}")


def set_synchronous(primary: PostgresServer, names: str) -> None:
    """synchronous_standby_names (e.g. 'ANY 1 (s1, s2)'), reloaded."""
    with primary.admin() as conn:
        conn.execute(sql.SQL("ALTER SYSTEM SET synchronous_standby_names = {}").format(
            sql.Literal(names)))
        conn.execute("SELECT pg_reload_conf()")


def wal_sender_pid(primary: PostgresServer, name: str) -> int:
    """The primary's WAL sender serving standby `name`."""
    rows = query(primary, "SELECT pid FROM pg_stat_replication WHERE application_name = %s",
                 (name,))
    if not rows:
        raise HarnessError(f"the primary has no WAL sender for standby {name}")
    return int(rows[0][0])


@contextlib.contextmanager
def paused(pid: int) -> Any:
    """SIGSTOP a process (the WAL sender of a standby: the WAL stays on the primary and the
    standby falls behind) until the block ends; SIGCONT whatever happens."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def wait_promoted(server: PostgresServer, timeout: float = 60.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with contextlib.suppress(psycopg.Error):
            if not in_recovery(server):
                return time.monotonic() - began
        time.sleep(0.02)
    raise HarnessError(f"server on port {server.port} still in recovery after {timeout:.0f}s")


# -- split brain ------------------------------------------------------------------------------
@dataclasses.dataclass
class WriteProbe:
    name: str
    port: int
    accepts_writes: bool
    detail: str


@dataclasses.dataclass
class SplitBrainVerdict:
    probes: list[WriteProbe]

    @property
    def writable(self) -> list[str]:
        return [p.name for p in self.probes if p.accepts_writes]

    @property
    def split_brain(self) -> bool:
        return len(self.writable) > 1

    def to_json(self) -> dict[str, object]:
        return {"split_brain": self.split_brain, "writable": self.writable,
                "probes": [dataclasses.asdict(p) for p in self.probes]}

    def one_line(self) -> str:
        if self.split_brain:
            return f"SPLIT BRAIN: {len(self.writable)} servers accept writes: {self.writable}"
        return f"one writer: {self.writable or 'none'}; " + ", ".join(
            f"{p.name} {p.detail}" for p in self.probes if not p.accepts_writes)


def accepts_writes(server: PostgresServer, database: str, author: uuid.UUID) -> WriteProbe:
    """Does the server take a write (a post, inserted then rolled back)? A standby refuses it
    (SQLSTATE 25006); a server that is down does not take it either."""
    if not server.alive:
        return WriteProbe("", server.port, False, "down")
    try:
        with db_session.connect(server.dsn(database), connect_timeout=3) as conn:
            conn.execute("SET statement_timeout = 3000")
            conn.execute("INSERT INTO public.posts (author_id, body) VALUES (%s, %s)",
                         (author, f"split-brain probe {uuid.uuid4()}"))
            conn.rollback()
    except psycopg.Error as exc:
        state = f"{exc.sqlstate}: " if exc.sqlstate else ""
        return WriteProbe("", server.port, False,
                          "refused " + state + str(exc).strip().splitlines()[0][:120])
    return WriteProbe("", server.port, True, "accepted a write")


def split_brain(servers: Mapping[str, PostgresServer], database: str,
                author: uuid.UUID) -> SplitBrainVerdict:
    probes = []
    for name, server in servers.items():
        probe = accepts_writes(server, database, author)
        probes.append(dataclasses.replace(probe, name=name))
    return SplitBrainVerdict(probes)
