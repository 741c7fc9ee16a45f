"""The row after the write: a matrix write cell's statements with the superuser's read-back
in the same transaction (soberharness.runner.matrix sends them instead of the plain request's).

The cell's transaction becomes: begin, setup, the rows of the table inserted, updated and
deleted so far in the transaction (PostgreSQL's per-transaction statistics), the request as
PostgREST runs it, `RESET ROLE`, the counts again and the written row with, per column the
model knows, whether it equals the value the model expects; rollback.
soberharness.checker.row_after_write judges what was read.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

from psycopg import sql

from soberharness.checker.row_after_write import ReadBack
from soberharness.clients.postgrest_sql import Request
from soberharness.db import sql as rows
from soberharness.records.results import Op
from soberharness.workload.matrix_cases import Action


@dataclasses.dataclass(frozen=True)
class RowCheck:
    """What a write cell's read-back is judged against."""

    relation: str  # schema.table
    expected: dict[str, Any]  # column -> value the model expects (insert, update)


def _counts(row: rows.Row) -> sql.SQL:
    """The rows inserted, updated and deleted in the table so far in this transaction (the
    statistics PostgreSQL keeps per transaction): the request's own writes are the difference
    between the counts after it and before it, triggers' writes to the table included."""
    return counts_statement(f"{row.schema}.{row.table}")


@functools.lru_cache(maxsize=256)  # one per table
def counts_statement(relation: str) -> sql.SQL:
    """`_counts` of the table `relation` (schema.table)."""
    oid = f"{rows.literal(relation)}::regclass"
    return sql.SQL(
        f"SELECT array[pg_catalog.pg_stat_get_xact_tuples_inserted({oid}), "
        f"pg_catalog.pg_stat_get_xact_tuples_updated({oid}), "
        f"pg_catalog.pg_stat_get_xact_tuples_deleted({oid})]")


def _check(row: rows.Row, expected: rows.Row | None) -> sql.SQL:
    """The written row and, per expected column, whether it holds the expected value."""
    same = "'{}'::jsonb"
    if expected is not None:
        same = "jsonb_build_object({})".format(", ".join(
            f"{rows.literal(col)}, t.{rows.ident(col)} is not distinct from {rows.literal(value)}"
            for col, value in expected.values.items()))
    return sql.SQL(f"SELECT (select jsonb_build_array(to_jsonb(t), {same}) from "
                   f"{row.name.as_string(None)} t where {row.where().as_string(None)})")


def row_check(action: Action) -> RowCheck | None:
    """What the model expects of the row a write cell writes; None for a read."""
    if action.op is Op.SELECT:
        return None
    target = rows.row_of(action.target)
    relation = f"{target.schema}.{target.table}"
    if action.op is Op.DELETE:
        return RowCheck(relation, {})
    written = action.after if action.op is Op.UPDATE else action.target
    assert written is not None
    return RowCheck(relation, dict(rows.row_of(written).values))


def checked_parts(request: Request, action: Action
                  ) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """The statements before the request's settings (begin, setup, the counts) and after them
    (the query, the read-back, rollback), each rendered alone: the same for every cell sending
    this action. A cell sending them has one statement more before its settings than a plain
    request (the counts), so it counts `len(setup) + 1` setup statements."""
    target = rows.row_of(action.target)
    written = action.after if action.op is Op.UPDATE else action.target
    expected = None if action.op is Op.DELETE or written is None else rows.row_of(written)
    head = (b"BEGIN ISOLATION LEVEL READ COMMITTED",
            *(part.as_bytes(None) for part in request.setup), _counts(target).as_bytes(None))
    tail = (request.query.as_bytes(None), b"RESET ROLE", _counts(target).as_bytes(None),
            _check(target, expected).as_bytes(None), b"ROLLBACK")
    return head, tail


def _counts_of(value: Any) -> list[int]:
    if isinstance(value, str):  # '{1,0,0}', as text
        return [int(v) for v in value.strip("{}").split(",")]
    return list(value)


def read_back(results: list[list[tuple[Any, ...]]], setup_statements: int) -> ReadBack:
    """A checked cell's read-back from its results (every statement's rows in order, the
    rollback's included); values as psycopg loads them, or as text (a pipelined batch)."""
    before = _counts_of(results[setup_statements][0][0])
    after = _counts_of(results[-3][0][0])
    checked = results[-2][0][0]
    if isinstance(checked, str):
        checked = json.loads(checked)
    row, same = (checked[0], checked[1]) if checked else (None, {})
    return ReadBack(tuple(b - a for a, b in zip(before, after, strict=True)), row, same)
