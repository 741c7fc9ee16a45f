"""The notification outbox under concurrency and faults, judged by the write ledger's checker.

A chaos stack of its own (its own PostgreSQL, the matrix world written: its likes, comments and
follows fill the outbox by trigger) and the `notify` function served by a real Deno against it.
Concurrent drains run while the faults strike, each while a batch is provably in flight (the
drains wait on a lock the drill holds on `private.notifications`, seen in pg_stat_activity):

1. `worker-killed`: the main service (the worker) is SIGKILLed mid-batch, then started again;
2. `database-restarted`: every PostgreSQL process is SIGKILLed mid-batch, then restarted.

Afterwards the outbox is drained until nothing is pending, and the ledger checker judges the
notifications: each event is a write keyed by what it notifies (kind, actor, recipient, source
row), "acknowledged" when the access model says it reaches its recipient (D30), "failed" when
the rules withhold it. So an event delivered twice (even through a copy of it in the outbox)
is `duplicated`, one never delivered `lost_acknowledged`, one delivered across the rules
`failed_present`, a notification of nothing in the ledger `phantom`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import psycopg

from soberharness.chaos.checker import CheckResult, classify
from soberharness.chaos.faults import PostgresCrash
from soberharness.chaos.ledger import BODY_PREFIX, Outcome, Write, body_of
from soberharness.chaos.stack import ChaosStack
from soberharness.checker.functions import OutboxEvent, should_deliver
from soberharness.clients.functions import FunctionsClient
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for, sign
from soberharness.errors import HarnessError, TargetUnavailable
from soberharness.targets.services.edge_functions import (
    STACK_FUNCTIONS,
    db_url_of,
    start_functions,
)
from soberharness.targets.services.process import ManagedProcess
from soberharness.workload.functions_calls import outbox_events, row_names
from soberharness.world.entities import World

FAULTS = ("worker-killed", "database-restarted")
DRAINERS = 3
WAIT_S = 20.0


def event_key(event: OutboxEvent) -> str:
    """What an event notifies: a second notification of the same thing is a duplicate, even
    when it came through a second outbox row."""
    return f"{event.kind}:{event.actor}:{event.recipient}:{event.source_id or '-'}"


def ledger_of(world: World, events: Sequence[OutboxEvent]) -> list[Write]:
    """The outbox as a write ledger: acknowledged when the rules deliver it, failed if not."""
    return [
        Write(event_key(e), 0, i, str(e.actor),
              Outcome.ACKNOWLEDGED if should_deliver(world, e) else Outcome.FAILED, 0.0, 0.0)
        for i, e in enumerate(events)
    ]


def delivered_bodies(conn: psycopg.Connection, users: Sequence[uuid.UUID]) -> list[str]:
    """One ledger body per notification to any of `users`, keyed as event_key keys events."""
    rows = conn.execute(
        "select kind, actor_id, recipient_id, source_id from private.notifications "
        "where recipient_id = any(%s) or actor_id = any(%s)", (list(users), list(users)),
    ).fetchall()
    return [body_of(f"{k}:{a}:{r}:{s or '-'}") for k, a, r, s in rows]


def violation_lines(result: CheckResult, events: Sequence[OutboxEvent],
                    names: Mapping[str, str]) -> list[str]:
    """Each violation as `notify: event <what it notifies>: <class>`."""
    by_key = {event_key(e): e for e in events}

    def what(key: str) -> str:
        e = by_key.get(key.removeprefix("ledger:"))
        if e is None:
            return key
        return (f"{e.kind} by {names.get(str(e.actor), e.actor)} to "
                f"{names.get(str(e.recipient), e.recipient)}"
                + (f", {e.source_table}/{names.get(str(e.source_id), e.source_id)}"
                   if e.source_id else ""))

    return [f"notify: event {what(key)}: {kind}"
            for kind, keys in result.violations.items() for key in keys]


@dataclasses.dataclass
class DrillResult:
    result: CheckResult
    lines: list[str]
    faults: list[str]  # what struck, each while a batch was in flight
    first_batch: list[str]  # keys of the events the first (undisturbed) batch delivered
    drain_calls: int


class _Worker:
    """The main service serving notify against the chaos stack's database (restartable)."""

    def __init__(self, workdir: Path, dsn: str, secret: str, functions_dir: Path) -> None:
        self.workdir, self.dsn, self.secret = workdir, dsn, secret
        self.functions_dir = functions_dir
        self.process: ManagedProcess | None = None
        self.url = ""
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.process, self.url = start_functions(
            self.workdir / f"start{self.starts}", db_url_of(self.dsn), self.secret,
            functions_dir=self.functions_dir, name=f"notify-worker-{self.starts}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.signal(signal.SIGKILL, group=True)
            self.process.wait(10)
            self.process.stop()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def _drain_once(url: str, token: str, limit: int = 10_000) -> int | None:
    """Processed count of one drain call; None if it failed (a fault struck)."""
    try:
        with FunctionsClient(url) as client:
            answer = client.call("notify", token, json={"limit": limit})
    except (httpx.HTTPError, OSError, TargetUnavailable):
        return None
    if answer.status != 200:
        return None
    return int(answer.body["processed"])


def _waiting_on_lock(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "select count(*) from pg_stat_activity where datname = current_database() "
        "and wait_event_type = 'Lock' and pid <> pg_backend_pid()").fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def _batches_in_flight(dsn: str, url: str, token: str) -> Iterator[list[threading.Thread]]:
    """Concurrent drains, held mid-batch by a lock on the notifications; yields once at least
    one batch waits on it (its events locked, its transaction open). The lock goes with the
    block (or with the database)."""
    conn = db_session.connect(dsn, autocommit=False, connect_timeout=5)
    threads: list[threading.Thread] = []
    try:
        conn.execute("lock table private.notifications in share row exclusive mode")
        threads = [threading.Thread(target=_drain_once, args=(url, token), daemon=True)
                   for _ in range(DRAINERS)]
        for t in threads:
            t.start()
        with db_session.connect(dsn, autocommit=True, connect_timeout=5) as watch:
            deadline = time.monotonic() + WAIT_S
            while _waiting_on_lock(watch) == 0:
                if time.monotonic() > deadline:
                    raise HarnessError("no notify batch reached the notifications in "
                                       f"{WAIT_S:.0f} s: the fault would strike no batch")
                time.sleep(0.05)
        yield threads
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.close()
        for t in threads:
            t.join(WAIT_S)


def _drain_all(worker: _Worker, token: str, attempts: int = 40) -> int:
    """Drain until a call finds nothing pending; calls made."""
    for call in range(1, attempts + 1):
        if worker.process is None or not worker.process.alive:
            raise HarnessError("the functions' main service died after the fault: "
                               + (worker.process.log_tail(6) if worker.process else ""))
        processed = _drain_once(worker.url, token)
        if processed == 0:
            return call
        if processed is None:
            time.sleep(0.5)  # the pool reconnects after the database came back
    raise HarnessError(f"the outbox was not drained in {attempts} calls")


def run_drill(stack: ChaosStack, secret: str, workdir: Path,
              functions_dir: Path = STACK_FUNCTIONS) -> DrillResult:
    """Drain the stack's outbox through both faults; judge every event with the ledger."""
    world = stack.matrix.world
    users = list(world.users)
    with db_session.connect(stack.admin_dsn, autocommit=True) as conn:
        events = outbox_events(conn, users)
    if not events:
        raise HarnessError("the chaos stack's world wrote no outbox events")
    token = sign(claims_for(stack.matrix.actors["service"]), secret)
    worker = _Worker(workdir, stack.admin_dsn, secret, functions_dir)
    faults: list[str] = []
    first: list[str] = []
    calls = 0
    try:
        worker.start()
        calls += 1
        if _drain_once(worker.url, token, limit=5) != 5:  # a first batch, delivered normally
            raise HarnessError("the first notify batch did not process 5 events")
        with db_session.connect(stack.admin_dsn, autocommit=True) as conn:
            first = delivered_bodies(conn, users)
        with _batches_in_flight(stack.admin_dsn, worker.url, token):
            worker.kill()
            faults.append(FAULTS[0])
        worker.start()
        with _batches_in_flight(stack.admin_dsn, worker.url, token):
            crash = PostgresCrash(stack.pg)
            crash.inject()
            faults.append(FAULTS[1])
            crash.heal()
        stack.wait_steady()
        calls += DRAINERS * 2 + _drain_all(worker, token)
    finally:
        worker.stop()
    with db_session.connect(stack.admin_dsn, autocommit=True) as conn:
        bodies = delivered_bodies(conn, users)
    result = classify(ledger_of(world, events), bodies)
    return DrillResult(result, violation_lines(result, events, row_names(stack.matrix)),
                       faults, [b.removeprefix(BODY_PREFIX) for b in first], calls)
