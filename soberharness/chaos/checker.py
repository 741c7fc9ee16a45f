"""The ledger's checker: after the fault heals, read every write back and judge each one.

Rules (per write id, counting the rows whose body carries it):
- acknowledged: present exactly once (absent = lost, more = duplicated);
- failed: absent (present = a write the client was told failed took effect);
- unknown: present once or absent (more = duplicated);
- and no row in the ledger's space that no client wrote (phantom).
"""

from __future__ import annotations

import collections
import dataclasses
import time
import uuid
from collections.abc import Iterable, Sequence

import psycopg

from soberharness.chaos.ledger import BODY_PREFIX, Ledger, Outcome, Write
from soberharness.db import session as db_session

# Violation classes, each a list of write ids (or row bodies for phantoms).
LOST = "lost_acknowledged"
DUPLICATED = "duplicated"
FAILED_PRESENT = "failed_present"
PHANTOM = "phantom"
VIOLATIONS = (LOST, DUPLICATED, FAILED_PRESENT, PHANTOM)

# Fine classes of writes that are fine.
ACK_PRESENT = "acknowledged_present"
FAILED_ABSENT = "failed_absent"
UNKNOWN_PRESENT = "unknown_present"
UNKNOWN_ABSENT = "unknown_absent"


@dataclasses.dataclass
class CheckResult:
    writes: int
    outcomes: dict[str, int]  # acknowledged / failed / unknown as the clients saw them
    classes: dict[str, int]  # acknowledged_present, failed_absent, unknown_present, ...
    violations: dict[str, list[str]]  # class -> ids (bodies for phantoms)
    rows_read: int

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    @property
    def lost(self) -> list[str]:
        return self.violations[LOST]

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "writes": self.writes,
            "outcomes": self.outcomes,
            "classes": self.classes,
            "violation_counts": {k: len(v) for k, v in self.violations.items()},
            "violations": {k: v[:50] for k, v in self.violations.items()},
            "rows_read": self.rows_read,
        }

    def one_line(self) -> str:
        parts = [f"{k}={v}" for k, v in self.classes.items()]
        bad = [f"{k}={len(v)}" for k, v in self.violations.items() if v]
        verdict = "OK" if self.ok else "VIOLATIONS " + " ".join(bad)
        return f"ledger {verdict}: {self.writes} writes; " + " ".join(parts)


def classify(writes: Iterable[Write], bodies: Iterable[str]) -> CheckResult:
    """Judge the ledger's writes against the bodies read back (a pure function)."""
    present = collections.Counter(bodies)
    writes = list(writes)
    known: set[str] = set()
    outcomes = {o.value: 0 for o in Outcome}
    classes = {c: 0 for c in (ACK_PRESENT, FAILED_ABSENT, UNKNOWN_PRESENT, UNKNOWN_ABSENT)}
    violations: dict[str, list[str]] = {v: [] for v in VIOLATIONS}
    for write in writes:
        outcomes[write.outcome.value] += 1
        body = write.body
        if body in known:
            raise ValueError(f"the ledger holds write id {write.id} twice")
        known.add(body)
        count = present.get(body, 0)
        if count > 1:
            violations[DUPLICATED].append(write.id)
        elif write.outcome is Outcome.ACKNOWLEDGED:
            if count == 1:
                classes[ACK_PRESENT] += 1
            else:
                violations[LOST].append(write.id)
        elif write.outcome is Outcome.FAILED:
            if count == 0:
                classes[FAILED_ABSENT] += 1
            else:
                violations[FAILED_PRESENT].append(write.id)
        else:
            classes[UNKNOWN_PRESENT if count == 1 else UNKNOWN_ABSENT] += 1
    violations[PHANTOM] = sorted(b for b in present if b not in known)
    return CheckResult(
        writes=len(writes),
        outcomes=outcomes,
        classes=classes,
        violations=violations,
        rows_read=sum(present.values()),
    )


def quiesce(conn: psycopg.Connection, timeout: float = 10.0) -> bool:
    """Wait until no other client session is connected to this database.

    A session whose client gave up may still be working through what it was sent (a COMMIT
    sent before a pause). Read back only once those are gone. True if it got quiet in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
        if row is not None and row[0] == 0:
            return True
        time.sleep(0.1)
    return False


def read_bodies(conn: psycopg.Connection, authors: Sequence[uuid.UUID]) -> list[str]:
    """Bodies of every post the ledger's authors have, plus any ledger-shaped post by anyone."""
    rows = conn.execute(
        "SELECT body FROM public.posts WHERE author_id = ANY(%s) OR body LIKE %s",
        (list(authors), BODY_PREFIX + "%"),
    ).fetchall()
    return [str(r[0]) for r in rows]


def check(dsn: str, ledger: Ledger, authors: Sequence[uuid.UUID]) -> CheckResult:
    """Read everything back through `dsn` (as the superuser) and classify the ledger."""
    with db_session.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        quiesce(conn)
        bodies = read_bodies(conn, authors)
    return classify(ledger.writes, bodies)
