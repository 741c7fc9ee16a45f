"""Which runs are alive on a shared database, and the removal of dead runs' matrix worlds.

A run that writes its matrix world to a shared database (a remote target's DSN) first takes a
session-level advisory lock keyed by its run id, on a connection it keeps open for the whole run
(`RunLock`). PostgreSQL releases the lock when that session ends: when the run finishes, when it
is killed (SIGKILL included: the kernel closes its socket and the server ends the session at
once), and when its machine vanishes (the session sets server-side TCP keepalives, so the
server drops it within about a minute). A later run finds the matrix worlds on the database by
their handles (`matrix_f_<run id>`, see world/matrix_world.py) and tries each run's lock:
getting it means no live session holds it, so that run is dead and its world is removed (while
holding the lock); not getting it means the run is alive and its world is left alone.

Limit: through a transaction-pooling proxy (PgBouncer or Supavisor in transaction mode) a
session lock does not stay with the run; give the target a direct or session-mode DSN.
"""

from __future__ import annotations

import dataclasses
from types import TracebackType

import psycopg

from soberharness.db import session as db_session
from soberharness.db.seed import remove_world
from soberharness.errors import HarnessError
from soberharness.world.matrix_world import build_matrix_world

LOCK_PREFIX = "soberharness-run:"
_KEY = "hashtextextended(%s, 0)"
# the shared actor every matrix world has: its handle carries the run id
_WORLD_HANDLE = "matrix_f_"


@dataclasses.dataclass(frozen=True)
class StaleSweep:
    removed: list[str]  # run ids of dead runs whose worlds were removed
    live: list[str]  # run ids of live runs whose worlds were left alone


class RunLock:
    """Holds this run's liveness lock on the database for as long as it is entered."""

    def __init__(self, dsn: str, run_id: str) -> None:
        self.dsn = dsn
        self.run_id = run_id
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> RunLock:
        conn = db_session.connect(self.dsn, autocommit=True, connect_timeout=10)
        try:
            for setting, value in (("tcp_keepalives_idle", 30), ("tcp_keepalives_interval", 10),
                                   ("tcp_keepalives_count", 3)):
                conn.execute(f"SET {setting} = {value}")
            row = conn.execute(f"SELECT pg_try_advisory_lock({_KEY})",
                               (LOCK_PREFIX + self.run_id,)).fetchone()
        except BaseException:
            conn.close()
            raise
        if not (row and row[0]):
            conn.close()
            raise HarnessError(f"run id {self.run_id} is held by another live run on this "
                               "database: choose another SOBERHARNESS_RUN_ID")
        self._conn = conn
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._conn is not None:
            self._conn.close()  # ends the session, which releases the lock
            self._conn = None


def world_run_ids(conn: psycopg.Connection) -> list[str]:
    """Run ids of the matrix worlds present in the database."""
    rows = conn.execute(
        "SELECT substr(handle, %s) FROM public.profiles WHERE starts_with(handle, %s) "
        "ORDER BY 1", (len(_WORLD_HANDLE) + 1, _WORLD_HANDLE)).fetchall()
    return [r[0] for r in rows if r[0]]


def remove_stale_worlds(conn: psycopg.Connection, own_run_id: str) -> StaleSweep:
    """Remove the matrix worlds of runs that no live session holds the lock of (see above).
    `conn` must be in autocommit mode."""
    removed, live = [], []
    for run_id in world_run_ids(conn):
        if run_id == own_run_id:
            continue
        key = (LOCK_PREFIX + run_id,)
        got = conn.execute(f"SELECT pg_try_advisory_lock({_KEY})", key).fetchone()
        if not (got and got[0]):
            live.append(run_id)
            continue
        try:
            remove_world(conn, build_matrix_world(run_id).world)
            removed.append(run_id)
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({_KEY})", key)
    return StaleSweep(removed, live)
