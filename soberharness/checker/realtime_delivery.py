"""Judge what each Realtime subscriber received against what it should have received.

Pure. The workload gives the changes it committed, in commit order, each with the subscribers
the access model lets read the changed row (`visible_to`, from `soberharness.access`); the
clients give what each subscriber received. Per subscriber:

- **lost**: a change it should see did not arrive;
- **duplicate**: a change arrived more than once;
- **leak**: a change arrived that it may not see (the model refuses the row, its filter or
  event kind excludes it, or a DELETE carries more than the primary key);
- **reordered**: a change of a row arrived after a later change of the same row;
- **unknown**: an event about one of the run's rows that matches none of its changes.

What it should see follows Realtime's documented behaviour: INSERT and UPDATE are re-read under
the subscriber's role and claims, so they reach it when the model lets it read the new row and
its filter (`col=eq.v`, `col=in.(a,b)`, neq, lt, lte, gt, gte) holds on the new record. DELETE
is not checked against RLS: it reaches every subscriber of the table whose filter is absent or
on a primary-key column (other columns are not in the WAL record, so Realtime cannot judge them
and sends nothing), and carries the primary key only.

The suite (suites/realtime) and the locust file (loadtests/realtime.py) both judge with this
module and report its `summary()`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from soberharness.checker.load_thresholds import percentile
from soberharness.records.realtime import Change, ChangeEvent, Delivery, Subscriber

LOST, DUPLICATE, LEAK, REORDERED, UNKNOWN = "lost", "duplicate", "leak", "reordered", "unknown"
KINDS = (LOST, DUPLICATE, LEAK, REORDERED, UNKNOWN)


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: str
    subscriber: str
    change: str  # Change.label, or a description of an unknown event
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.kind}: {self.subscriber} <- {self.change}{extra}"


@dataclasses.dataclass
class DeliveryReport:
    findings: list[Finding]
    subscribers: int
    changes: int
    expected: int
    delivered: int
    foreign: int
    latencies_ms: list[float]
    clock_skew: int

    @property
    def passed(self) -> bool:
        return not self.findings

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    def summary(self, limit: int = 50) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "passed": self.passed,
            "subscribers": self.subscribers,
            "changes": self.changes,
            "expected": self.expected,
            "delivered": self.delivered,
            **{kind: self.count(kind) for kind in KINDS},
            "foreign": self.foreign,
            "latency_ms": {"p50": percentile(lat, 0.5), "p95": percentile(lat, 0.95),
                           "p99": percentile(lat, 0.99), "max": max(lat, default=0.0),
                           "samples": len(lat)},
            "clock_skew": self.clock_skew,
            "findings": [str(f) for f in self.findings[:limit]],
        }


class _Index:
    """Changes by (table, type, key values) for identifying received events."""

    def __init__(self, changes: Sequence[Change]) -> None:
        self.by_event: dict[tuple[str, str, tuple[str, ...]], list[Change]] = defaultdict(list)
        self.rows: set[tuple[str, tuple[str, ...]]] = set()
        self.key_columns: dict[str, tuple[str, ...]] = {}
        for c in changes:
            self.by_event[(c.table, c.type, c.key_values())].append(c)
            self.rows.add((c.table, c.key_values()))
            self.key_columns.setdefault(c.table, tuple(col for col, _ in c.key))

    def key_of(self, event: ChangeEvent) -> tuple[str, ...] | None:
        columns = self.key_columns.get(event.table)
        row = event.row
        if columns is None or any(col not in row for col in columns):
            return None
        return tuple(str(row[col]) for col in columns)

    def identify(self, event: ChangeEvent, taken: Counter[int]) -> Change | None:
        key = self.key_of(event)
        if key is None:
            return None
        candidates = self.by_event.get((event.table, event.type, key), [])
        if event.type != "DELETE" and len(candidates) > 1:
            candidates = [c for c in candidates if _written(c, event.record)] or candidates
        if not candidates:
            return None
        fresh = [c for c in candidates if not taken[c.seq]]
        return (fresh or candidates)[0]

    def ours(self, event: ChangeEvent) -> bool:
        key = self.key_of(event)
        return key is not None and (event.table, key) in self.rows


def _written(change: Change, record: Mapping[str, Any]) -> bool:
    """The event carries what the change wrote (timestamps by being set or not: their text
    differs between the writer and the database)."""
    for col, val in change.row.items():
        have = record.get(col)
        if col.endswith("_at") or val is None or have is None:
            if (val is None) != (have is None):
                return False
        elif str(have) != str(val):
            return False
    return True


def judge(changes: Sequence[Change], subscribers: Iterable[Subscriber],
          deliveries: Iterable[Delivery]) -> DeliveryReport:
    """Every finding, subscriber by subscriber, in commit order of the changes concerned."""
    index = _Index(changes)
    received: dict[str, list[Delivery]] = defaultdict(list)
    for d in deliveries:
        received[d.subscriber].append(d)
    findings: list[Finding] = []
    subs = list(subscribers)
    expected_total = delivered_total = foreign = skew = 0
    latencies: list[float] = []
    for sub in subs:
        taken: Counter[int] = Counter()
        order: list[tuple[Change, Delivery]] = []
        for d in sorted(received.get(sub.name, []), key=lambda d: d.received_at):
            change = index.identify(d.event, taken)
            if change is None:
                if index.ours(d.event):
                    findings.append(Finding(UNKNOWN, sub.name, _describe(d.event),
                                            "matches no change of the run"))
                else:
                    foreign += 1
                continue
            taken[change.seq] += 1
            if taken[change.seq] == 1:
                order.append((change, d))
        expected = [c for c in changes if sub.permitted(c) and sub.judged(c)]
        expected_total += len(expected)
        for change in changes:  # findings in commit order
            n = taken[change.seq]
            if change in expected and n == 0:
                findings.append(Finding(LOST, sub.name, change.label))
            if n and not sub.permitted(change):
                why = _why_not(sub, change)
                findings.append(Finding(LEAK, sub.name, change.label, why))
            if n > 1:
                findings.append(Finding(DUPLICATE, sub.name, change.label, f"arrived {n} times"))
        findings += _payload_leaks(sub.name, order)
        findings += _reorders(sub.name, order)
        for change, d in order:
            if sub.permitted(change):
                delivered_total += change in expected
                ts = d.event.commit_timestamp
                if ts is not None:
                    ms = (d.received_at - ts.timestamp()) * 1000.0
                    if ms < 0:
                        skew += 1
                    latencies.append(max(ms, 0.0))
    return DeliveryReport(findings, len(subs), len(changes), expected_total, delivered_total,
                          foreign, latencies, skew)


def _why_not(sub: Subscriber, change: Change) -> str:
    if not any(s.wants(change) for s in sub.subscriptions):
        return "outside its subscription (table, event or filter)"
    return "the access model refuses the row"


def _payload_leaks(name: str, order: Sequence[tuple[Change, Delivery]]) -> list[Finding]:
    found = []
    for change, d in order:
        if change.type != "DELETE":
            continue
        extra = sorted(set(d.event.old_record) - {c for c, _ in change.key})
        if extra:
            found.append(Finding(LEAK, name, change.label,
                                 f"DELETE old_record carries {', '.join(extra)}"))
    return found


def _reorders(name: str, order: Sequence[tuple[Change, Delivery]]) -> list[Finding]:
    found = []
    latest: dict[tuple[str, tuple[str, ...]], Change] = {}
    for change, _ in order:
        row = (change.table, change.key_values())
        before = latest.get(row)
        if before is not None and before.seq > change.seq:
            found.append(Finding(REORDERED, name, change.label, f"arrived after {before.label}"))
            continue
        latest[row] = change
    return found


def _describe(event: ChangeEvent) -> str:
    return f"{event.type} {event.table}{sorted(event.row.items())[:3]}"


def violations(report: DeliveryReport, max_lost: int = 0) -> list[str]:
    """The delivery findings that fail a load run, one line per kind."""
    found = []
    for kind in KINDS:
        n = report.count(kind)
        if n > (max_lost if kind == LOST else 0):
            first = next(str(f) for f in report.findings if f.kind == kind)
            found.append(f"delivery: {n} {kind} (first: {first})")
    if report.expected == 0:
        found.append("delivery: no post was judged (no subscriber listened while one was sent)")
    return found
