"""The write ledger (Jepsen-style): concurrent clients write, and record what the server told them.

Each write is one post by a seeded user, made the way PostgREST makes it (one transaction,
role `authenticated`, the user's claims), whose body is the write's own id. Its outcome is what
the client could know when it gave up:

- acknowledged: COMMIT returned;
- failed: an error before COMMIT was sent (the transaction can never commit);
- unknown: the connection broke or timed out while COMMIT was in flight (it may have committed).

A stopped server (SIGSTOP) never answers, and the kernel still accepts bytes for it, so every
round trip has a client-side deadline: a watchdog shuts the socket down when it passes, which
turns a hung call into a connection error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path

import psycopg
from psycopg import sql

from soberharness.clients.postgrest_sql import request_settings
from soberharness.db import session as db_session
from soberharness.world.entities import Role, Viewer

BODY_PREFIX = "ledger:"


class Outcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class Write:
    """One attempted write and what its client learnt about it."""

    id: str  # also the post's body: BODY_PREFIX + id
    client: int
    seq: int
    author: str
    outcome: Outcome
    started: float  # time.time()
    finished: float
    error: str | None = None

    @property
    def body(self) -> str:
        return body_of(self.id)

    def to_json(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["outcome"] = self.outcome.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Write:
        values = dict(data)
        values["outcome"] = Outcome(str(values["outcome"]))
        return cls(**values)  # type: ignore[arg-type]


def body_of(write_id: str) -> str:
    return f"{BODY_PREFIX}{write_id}"


class Ledger:
    """Thread-safe list of writes, in the order their outcomes were known."""

    def __init__(self, writes: Iterable[Write] = ()) -> None:
        self._writes: list[Write] = list(writes)
        self._lock = threading.Lock()

    def record(self, write: Write) -> None:
        with self._lock:
            self._writes.append(write)

    @property
    def writes(self) -> list[Write]:
        with self._lock:
            return list(self._writes)

    def counts(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for write in self.writes:
            counts[write.outcome.value] += 1
        return counts

    def counts_between(self, start: float, end: float) -> dict[str, int]:
        """Counts per outcome of the writes whose outcome came in [start, end] (time.time())."""
        counts = {o.value: 0 for o in Outcome}
        for write in self.writes:
            if start <= write.finished <= end:
                counts[write.outcome.value] += 1
        return counts

    def __len__(self) -> int:
        with self._lock:
            return len(self._writes)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            for write in self.writes:
                out.write(json.dumps(write.to_json()) + "\n")

    @classmethod
    def load(cls, path: Path) -> Ledger:
        with path.open() as src:
            return cls(Write.from_json(json.loads(line)) for line in src if line.strip())


class Deadline:
    """Shuts a connection's socket down if the block takes longer than `seconds`."""

    def __init__(self, conn: psycopg.Connection, seconds: float) -> None:
        self.conn = conn
        self.seconds = seconds
        self.fired = False
        self._timer: threading.Timer | None = None

    def _fire(self) -> None:
        self.fired = True
        with contextlib.suppress(Exception):
            fd = self.conn.pgconn.socket
            # shutdown() on a duplicate acts on the shared socket; the blocked call sees EOF.
            sock = socket.socket(fileno=os.dup(fd))
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()

    def __enter__(self) -> Deadline:
        self._timer = threading.Timer(self.seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, psycopg.Error) and exc.sqlstate:
        return f"{exc.sqlstate}: {str(exc).strip().splitlines()[0]}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


# Errors at COMMIT that mean the server answered "not committed" (constraint, serialization).
_DEFINITE_COMMIT_FAILURES = ("23", "40")


class LedgerWorkload:
    """`clients` threads writing posts through `dsn` until stopped, each on its own connection."""

    def __init__(
        self,
        dsn: str,
        authors: Sequence[uuid.UUID],
        clients: int = 4,
        op_timeout: float = 2.0,
        connect_timeout: int = 2,
        pause: float = 0.0,
        ledger: Ledger | None = None,
    ) -> None:
        if not authors:
            raise ValueError("the ledger needs at least one author")
        self.dsn = dsn
        self.authors = list(authors)
        self.clients = clients
        self.op_timeout = op_timeout
        self.connect_timeout = max(2, connect_timeout)  # libpq rounds lower values up to 2
        self.pause = pause
        self.ledger = ledger if ledger is not None else Ledger()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> LedgerWorkload:
        self._stop.clear()
        for client in range(self.clients):
            thread = threading.Thread(
                target=self._run, args=(client,), name=f"ledger-{client}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 15.0) -> Ledger:
        """Stop after each client's write in flight has an outcome; returns the ledger."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        return self.ledger

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def __enter__(self) -> LedgerWorkload:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- one client -----------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        return db_session.connect(self.dsn, connect_timeout=self.connect_timeout, autocommit=False)

    def _run(self, client: int) -> None:
        conn: psycopg.Connection | None = None
        seq = 0
        try:
            while not self._stop.is_set():
                seq += 1
                author = self.authors[(client + seq) % len(self.authors)]
                conn, write = self._write_once(conn, client, seq, author)
                self.ledger.record(write)
                if write.outcome is not Outcome.ACKNOWLEDGED:
                    self._stop.wait(0.05)  # do not spin while the database is away
                elif self.pause:
                    self._stop.wait(self.pause)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _write_once(
        self, conn: psycopg.Connection | None, client: int, seq: int, author: uuid.UUID
    ) -> tuple[psycopg.Connection | None, Write]:
        write_id = str(uuid.uuid4())
        started = time.time()

        def done(outcome: Outcome, error: str | None = None) -> Write:
            return Write(write_id, client, seq, str(author), outcome, started, time.time(), error)

        # Before COMMIT is sent nothing can commit: any error here is a failed write.
        try:
            if conn is None or conn.closed:
                conn = self._connect()
            viewer = Viewer(Role.AUTHENTICATED, author)
            with Deadline(conn, self.op_timeout):
                conn.execute(request_settings(viewer, "POST", "/posts").as_bytes(conn))
                conn.execute(
                    sql.SQL("INSERT INTO public.posts (author_id, body) VALUES ({}, {})")
                    .format(sql.Literal(author), sql.Literal(body_of(write_id)))
                    .as_bytes(conn)
                )
        except Exception as exc:
            return self._drop(conn), done(Outcome.FAILED, _describe(exc))
        try:
            with Deadline(conn, self.op_timeout):
                conn.commit()
        except psycopg.Error as exc:
            state = exc.sqlstate or ""
            if state.startswith(_DEFINITE_COMMIT_FAILURES):
                return self._drop(conn), done(Outcome.FAILED, _describe(exc))
            return self._drop(conn), done(Outcome.UNKNOWN, _describe(exc))
        return conn, done(Outcome.ACKNOWLEDGED)

    @staticmethod
    def _drop(conn: psycopg.Connection | None) -> None:
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        return None


@contextlib.contextmanager
def running(workload: LedgerWorkload) -> Iterator[LedgerWorkload]:
    """Start the workload; always stop it."""
    workload.start()
    try:
        yield workload
    finally:
        workload.stop()
