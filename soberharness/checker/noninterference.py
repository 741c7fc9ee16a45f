"""Judging non-interference: a viewer's snapshot before and after a change the model says the
viewer cannot observe must be equal; where a relation's digest differs, the rows explain it
column by column. Pure: snapshots and rows in, differences out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from soberharness.records.noninterference import Difference, Rows, Snapshot

ROW = "(row)"


def changed_relations(before: Snapshot, after: Snapshot) -> list[str]:
    """Relations whose digest differs (or which one side lacks), in name order."""
    return sorted(r for r in set(before) | set(after) if before.get(r) != after.get(r))


def _text(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _key_of(row: dict[str, Any], key: Sequence[str]) -> str:
    return ", ".join(f"{k}={row.get(k)}" for k in key)


def explain(
    change: str,
    viewer: str,
    relation: str,
    before: Rows,
    after: Rows,
    key: Sequence[str],
) -> list[Difference]:
    """The differences between a relation's rows before and after, named by column.

    Rows equal on both sides are set aside; the rest are paired by `key` (a table's primary key,
    or `id`); a paired row yields one difference per column that changed, an unpaired row one
    difference for the whole row. Empty when the rows are equal (a digest that moved by itself).
    """
    gone = _multiset_minus(before, after)
    new = _multiset_minus(after, before)
    out: list[Difference] = []
    if key:
        new_by_key = {_key_of(r, key): r for r in new}
        for old in list(gone):
            k = _key_of(old, key)
            if k in new_by_key:
                row = new_by_key.pop(k)
                gone.remove(old)
                new.remove(row)
                out += [Difference(change, viewer, relation, col, old.get(col), row.get(col), k)
                        for col in sorted(set(old) | set(row)) if old.get(col) != row.get(col)]
    out += [Difference(change, viewer, relation, ROW, _text(r), None,
                       _key_of(r, key) if key else "") for r in gone]
    out += [Difference(change, viewer, relation, ROW, None, _text(r),
                       _key_of(r, key) if key else "") for r in new]
    return out


def _multiset_minus(a: Rows, b: Rows) -> Rows:
    """Rows of `a` not matched by an equal row of `b` (counting repeats)."""
    pool: dict[str, int] = {}
    for row in b:
        pool[_text(row)] = pool.get(_text(row), 0) + 1
    out = []
    for row in a:
        t = _text(row)
        if pool.get(t):
            pool[t] -= 1
        else:
            out.append(row)
    return out
