"""Realtime's records: one postgres_changes event as a subscriber received it; the changes a
run committed, the subscriptions and subscribers that listened and the deliveries they got
(judged by soberharness.checker.realtime_delivery)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class ChangeEvent:
    schema: str
    table: str
    type: str
    commit_timestamp: dt.datetime | None
    record: dict[str, Any]
    ids: tuple[int, ...] = ()
    old_record: dict[str, Any] = dataclasses.field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def row(self) -> dict[str, Any]:
        """The row the event is about: the new record, or for a DELETE the old one (its
        primary key only, as Realtime sends it)."""
        return self.old_record if self.type == "DELETE" else self.record


_FILTER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(eq|neq|lt|lte|gt|gte|in)\.(.*)$", re.S)


@dataclasses.dataclass(frozen=True)
class Change:
    """One committed change of the run. `key` is the primary key as (column, value) pairs;
    `row` the columns as they were written (the new row; for DELETE the row deleted);
    `visible_to` the subscribers the access model lets read the new row."""

    seq: int
    table: str
    type: str  # INSERT | UPDATE | DELETE
    key: tuple[tuple[str, str], ...]
    row: Mapping[str, Any]
    visible_to: frozenset[str] = frozenset()
    committed_at: float | None = None  # epoch seconds, when the writer knows it
    schema: str = "public"

    @property
    def label(self) -> str:
        key = ",".join(f"{c}={v}" for c, v in self.key)
        return f"#{self.seq} {self.type} {self.table}({key})"

    def key_values(self) -> tuple[str, ...]:
        return tuple(v for _, v in self.key)


@dataclasses.dataclass(frozen=True)
class RowFilter:
    column: str
    op: str
    values: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> RowFilter:
        found = _FILTER.match(text.strip())
        if found is None:
            raise ValueError(f"not a Realtime filter: {text!r} (expected col=op.value)")
        column, op, raw = found.groups()
        if op == "in":
            inner = raw.strip()
            if not (inner.startswith("(") and inner.endswith(")")):
                raise ValueError(f"in filter needs (a,b,…): {text!r}")
            values = tuple(v.strip().strip('"') for v in inner[1:-1].split(",") if v.strip())
        else:
            values = (raw,)
        return cls(column, op, values)

    def holds(self, row: Mapping[str, Any]) -> bool:
        if self.column not in row or row[self.column] is None:
            return False
        value = str(row[self.column])
        if self.op == "eq":
            return value == self.values[0]
        if self.op == "neq":
            return value != self.values[0]
        if self.op == "in":
            return value in self.values
        left, right = _comparable(value), _comparable(self.values[0])
        try:
            return {"lt": left < right, "lte": left <= right, "gt": left > right,
                    "gte": left >= right}[self.op]  # type: ignore[operator]
        except TypeError:
            return False


def _comparable(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


@dataclasses.dataclass(frozen=True)
class Subscription:
    """One `config.postgres_changes` entry of a subscriber's channel."""

    table: str
    event: str = "*"
    filter: str | None = None
    schema: str = "public"

    def wants(self, change: Change) -> bool:
        """Realtime sends `change` on this subscription, by table, event kind and filter
        (RLS aside)."""
        if (change.schema, change.table) != (self.schema, self.table):
            return False
        if self.event not in ("*", change.type):
            return False
        if self.filter is None:
            return True
        rule = RowFilter.parse(self.filter)
        if change.type == "DELETE":
            key_columns = {c for c, _ in change.key}
            return rule.column in key_columns and rule.holds(dict(change.key))
        return rule.holds(change.row)


@dataclasses.dataclass(frozen=True)
class Subscriber:
    """A channel of one actor. Only changes committed inside `window` (epoch seconds, both
    ends) are required to arrive; leaks are judged for every change."""

    name: str
    subscriptions: tuple[Subscription, ...]
    window: tuple[float, float] | None = None

    def permitted(self, change: Change) -> bool:
        if not any(s.wants(change) for s in self.subscriptions):
            return False
        return change.type == "DELETE" or self.name in change.visible_to

    def judged(self, change: Change) -> bool:
        if self.window is None:
            return True
        if change.committed_at is None:
            return False
        return self.window[0] <= change.committed_at <= self.window[1]


@dataclasses.dataclass(frozen=True)
class Delivery:
    subscriber: str
    event: ChangeEvent
    received_at: float  # wall clock, epoch seconds
