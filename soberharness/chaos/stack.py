"""The stack a chaos run breaks: a private PostgreSQL with SoberTube migrated and a few users,
optionally behind a Toxiproxy proxy, optionally with the posts table on a small disk, and the
steady-state probes that say it is healthy.

Two database configurations:
- CLEAN: fsync and synchronous commit on; an acknowledged commit is on disk, so a crash of the
  database processes must not lose it.
- LOSSY: asynchronous commit with a long WAL writer delay; COMMIT returns before its WAL record
  leaves shared memory, so SIGKILL of the database loses the newest acknowledged writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo, sql

from soberharness.chaos.disk import SmallDisk
from soberharness.chaos.disk import missing_reason as disk_missing_reason
from soberharness.chaos.faults import signal_tree
from soberharness.checker.matrix import allowed
from soberharness.clients.postgrest_sql import Request, RequestRunner
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.errors import HarnessError
from soberharness.runner.matrix import PlannedCell, plan
from soberharness.targets.base import StackHost
from soberharness.targets.local import LocalTarget
from soberharness.targets.postgres import PostgresServer
from soberharness.targets.services.tools import find_tool, missing_reason
from soberharness.targets.services.toxiproxy import ToxiproxyProcess
from soberharness.world.entities import User, Viewer
from soberharness.world.matrix_world import build_matrix_world

CLEAN: dict[str, str] = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
}
LOSSY: dict[str, str] = {
    "fsync": "on",
    "synchronous_commit": "off",
    "full_page_writes": "on",
    "wal_writer_delay": "10000ms",  # the maximum: async commits wait up to 10 s in WAL buffers
}
CONFIGS = {"clean": CLEAN, "lossy": LOSSY}
PROXY_NAME = "postgres"
RLS_SAMPLE_EVERY = 7  # every 7th access-matrix cell: ~250 cells over every table and actor


def _users(count: int, tag: str) -> list[User]:
    return [
        User(uuid.uuid5(uuid.NAMESPACE_URL, f"chaos:{tag}:{i}"), f"chaos_{tag}_{i}")
        for i in range(count)
    ]


@dataclasses.dataclass
class ProbeResult:
    ok: bool
    detail: str
    seconds: float


class ChaosStack:
    """PostgreSQL (+ Toxiproxy, + a small disk) for one chaos run. Use as a context manager."""

    def __init__(
        self,
        config: str = "clean",
        toxiproxy: bool = False,
        writers: int = 3,
        workdir: Path | None = None,
        small_disk: bool = False,
        extra_settings: dict[str, str] | None = None,
        host: StackHost | None = None,
    ) -> None:
        if config not in CONFIGS:
            raise HarnessError(f"unknown chaos config '{config}': choose one of {sorted(CONFIGS)}")
        self.config = config
        self.want_toxiproxy = toxiproxy
        self.want_small_disk = small_disk
        self.disk: SmallDisk | None = None
        self.settings = {**CONFIGS[config], **(extra_settings or {})}
        # The selected target's sibling when it hosts stacks, else a local stack of its own
        # (chaostoolkit's controls run in a process of their own, with no target handed over).
        self.target = (host or LocalTarget()).sibling(f"chaos-{config}", workdir, self.settings)
        self.writers = _users(writers, "writer")
        self.prober = _users(1, "prober")[0]
        self.matrix = build_matrix_world("chaos")
        self._rls_sample: list[PlannedCell] | None = None
        self.database = ""
        self.toxiproxy: ToxiproxyProcess | None = None
        self.proxy_port: int | None = None

    @property
    def pg(self) -> PostgresServer:
        return self.target.pg

    @property
    def authors(self) -> list[uuid.UUID]:
        return [u.id for u in self.writers]

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> ChaosStack:
        try:
            self.target.start()
            self.database = self.target.new_database("chaos")
            world = self.matrix.world.copy()
            for user in [*self.writers, self.prober]:
                world.add(user)
            with db_session.connect(self.admin_dsn, autocommit=True) as conn:
                write_world(conn, world)
            if self.want_small_disk:
                reason = disk_missing_reason()
                if reason:
                    raise HarnessError(reason)
                self.disk = SmallDisk(self.target.workdir / "small-disk", self.pg.account)
                self.disk.mount()
                self.disk.move_table(self.admin_dsn, "public.posts")
            if self.want_toxiproxy:
                if find_tool("toxiproxy") is None:
                    raise HarnessError(missing_reason("toxiproxy"))
                self.toxiproxy = ToxiproxyProcess(self.target.workdir / "toxiproxy").start()
                proxy = self.toxiproxy.client.create_proxy(
                    PROXY_NAME, f"127.0.0.1:{self.pg.port}"
                )
                self.proxy_port = proxy.port
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        pid = self.pg.pid
        if pid is not None:
            # A fault left unhealed must not leave stopped backends behind a fast shutdown.
            signal_tree(pid, signal.SIGCONT)
        if self.toxiproxy is not None:
            with contextlib.suppress(Exception):
                self.toxiproxy.stop()
            self.toxiproxy = None
        if self.disk is not None:
            self.pg.stop()  # before its tablespace goes away
            self.disk.unmount()
            self.disk = None
        self.target.stop()

    def __enter__(self) -> ChaosStack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------------
    @property
    def admin_dsn(self) -> str:
        """Straight to the database (never through the proxy): for seeding and reading back."""
        return self.pg.dsn(self.database)

    @property
    def client_dsn(self) -> str:
        """The clients' way in: through Toxiproxy when there is one."""
        if self.proxy_port is None:
            return self.admin_dsn
        return conninfo.make_conninfo(self.admin_dsn, port=str(self.proxy_port))

    def clear_writes(self) -> None:
        """Delete the writers' posts (a fresh ledger then starts from an empty space)."""
        with db_session.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM public.posts WHERE author_id = ANY(%s)", (self.authors,))

    # -- steady state -----------------------------------------------------------------------------
    def health(self, timeout: float = 2.0) -> ProbeResult:
        """The database answers `SELECT 1` on the clients' path."""
        began = time.monotonic()
        try:
            with db_session.connect(self.client_dsn, connect_timeout=max(2, int(timeout)),
                                 autocommit=True) as conn:
                conn.execute("SELECT set_config('statement_timeout', %s, false)",
                             (str(int(timeout * 1000)),))
                conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            return ProbeResult(False, str(exc).strip().splitlines()[0], time.monotonic() - began)
        return ProbeResult(True, "select 1 answered", time.monotonic() - began)

    def read_your_write(self, timeout: float = 3.0) -> ProbeResult:
        """A signed-in user posts, then reads the post back, each as PostgREST would run it."""
        began = time.monotonic()
        viewer = Viewer.of(self.prober)
        body = f"probe {uuid.uuid4()}"
        try:
            with db_session.connect(self.client_dsn, connect_timeout=max(2, int(timeout)),
                                 autocommit=True) as conn:
                conn.execute("SELECT set_config('statement_timeout', %s, false)",
                             (str(int(timeout * 1000)),))
                runner = RequestRunner(conn, commit=True)
                wrote = runner.run(viewer, Request(
                    sql.SQL("INSERT INTO public.posts (author_id, body) VALUES ({}, {}) "
                            "RETURNING id").format(sql.Literal(self.prober.id), sql.Literal(body)),
                    method="POST", path="/posts",
                ))
                if not wrote.ok or not wrote.rows:
                    return ProbeResult(False, f"write refused: {wrote.error}",
                                       time.monotonic() - began)
                post_id = wrote.rows[0][0]
                read = runner.run(viewer, Request(
                    sql.SQL("SELECT body FROM public.posts WHERE id = {}").format(
                        sql.Literal(post_id)),
                    method="GET", path="/posts",
                ))
        except psycopg.Error as exc:
            return ProbeResult(False, str(exc).strip().splitlines()[0], time.monotonic() - began)
        if not read.ok or [r[0] for r in read.rows] != [body]:
            return ProbeResult(False, f"read back {read.rows!r} ({read.error})",
                               time.monotonic() - began)
        return ProbeResult(True, "own post read back", time.monotonic() - began)

    def rls_sample(self, every: int = RLS_SAMPLE_EVERY) -> ProbeResult:
        """A sample of the access matrix, run as PostgREST would, must match the access model."""
        began = time.monotonic()
        if self._rls_sample is None:
            self._rls_sample = plan(self.matrix)[::every]
        wrong: list[str] = []
        try:
            with db_session.connect(self.client_dsn, connect_timeout=5, autocommit=True) as conn:
                conn.execute("SELECT set_config('statement_timeout', '5000', false)")
                runner = RequestRunner(conn)
                for cell in self._rls_sample:
                    outcome = runner.execute(cell.text, cell.setup_statements)
                    if allowed(cell.op, outcome) != cell.expected:
                        c = cell.cell
                        wrong.append(f"{c.actor} {c.op.value} {c.table} [{c.case}] "
                                     f"privacy={c.privacy}: expected "
                                     f"{'allow' if cell.expected else 'deny'}")
        except psycopg.Error as exc:
            return ProbeResult(False, str(exc).strip().splitlines()[0], time.monotonic() - began)
        checked = len(self._rls_sample)
        if wrong:
            return ProbeResult(False, f"{len(wrong)}/{checked} cells wrong, first: {wrong[0]}",
                               time.monotonic() - began)
        return ProbeResult(True, f"{checked} access-matrix cells match the model",
                           time.monotonic() - began)

    def wait_steady(self, timeout: float = 30.0) -> float:
        """Seconds until read-your-write succeeds; HarnessError if it does not within `timeout`."""
        began = time.monotonic()
        last = "never tried"
        while time.monotonic() - began < timeout:
            result = self.read_your_write()
            if result.ok:
                return time.monotonic() - began
            last = result.detail
            time.sleep(0.05)
        raise HarnessError(f"steady state not back after {timeout:.0f}s: {last}")

    def describe(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "settings": self.settings,
            "postgres_port": self.pg.port,
            "proxy_port": self.proxy_port,
            "database": self.database,
            "writers": len(self.writers),
            "small_disk_mb": self.disk.size_mb if self.disk else None,
        }
