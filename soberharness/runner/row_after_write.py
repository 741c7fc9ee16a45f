"""The row after the write: a matrix write cell rendered with the superuser's read-back in the
same round trip (soberharness.runner.matrix sends it instead of the plain request).

The cell's transaction becomes: begin, setup, the rows of the table inserted, updated and
deleted so far in the transaction (PostgreSQL's per-transaction statistics), the request as
PostgREST runs it, `RESET ROLE`, the counts again and the written row with, per column the
model knows, whether it equals the value the model expects; rollback.
soberharness.checker.row_after_write judges what was read.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import psycopg
from psycopg import sql

from soberharness.checker.row_after_write import ReadBack
from soberharness.clients.postgrest_sql import Request, request_settings
from soberharness.db import sql as rows
from soberharness.records.outcome import Outcome
from soberharness.records.results import Op
from soberharness.workload.matrix_cases import Action
from soberharness.world.entities import Viewer


@dataclasses.dataclass(frozen=True)
class RowCheck:
    """What a write cell's read-back is judged against."""

    relation: str  # schema.table
    expected: dict[str, Any]  # column -> value the model expects (insert, update)


def _counts(row: rows.Row) -> sql.Composed:
    """The rows inserted, updated and deleted in the table so far in this transaction (the
    statistics PostgreSQL keeps per transaction): the request's own writes are the difference
    between the counts after it and before it, triggers' writes to the table included."""
    oid = sql.SQL("{}::regclass").format(sql.Literal(f"{row.schema}.{row.table}"))
    return sql.SQL(
        "SELECT array[pg_catalog.pg_stat_get_xact_tuples_inserted({o}), "
        "pg_catalog.pg_stat_get_xact_tuples_updated({o}), "
        "pg_catalog.pg_stat_get_xact_tuples_deleted({o})]").format(o=oid)


def _check(row: rows.Row, expected: rows.Row | None) -> sql.Composed:
    """The written row and, per expected column, whether it holds the expected value."""
    same: sql.Composable = sql.SQL("'{}'::jsonb")
    if expected is not None:
        same = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
            sql.SQL("{}, t.{} is not distinct from {}").format(
                sql.Literal(col), sql.Identifier(col), sql.Literal(value))
            for col, value in expected.values.items()))
    return sql.SQL("SELECT (select jsonb_build_array(to_jsonb(t), {}) from {} t where {})").format(
        same, row.name, row.where())


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


def checked_parts(request: Request, action: Action) -> tuple[bytes, bytes]:
    """What goes before the request's settings (begin, setup, the digests) and after its query
    (the read-back and rollback): the same for every cell sending this action."""
    target = rows.row_of(action.target)
    written = action.after if action.op is Op.UPDATE else action.target
    expected = None if action.op is Op.DELETE or written is None else rows.row_of(written)
    head = sql.SQL(";\n").join([sql.SQL("BEGIN ISOLATION LEVEL READ COMMITTED"),
                                 *request.setup, _counts(target)])
    tail = sql.SQL(";\n").join([sql.SQL("RESET ROLE"), _counts(target),
                                 _check(target, expected), sql.SQL("ROLLBACK")])
    return head.as_bytes(None), tail.as_bytes(None)


def render_checked(
    viewer: Viewer,
    request: Request,
    parts: tuple[bytes, bytes],
    claims: dict[str, Any] | None,
) -> bytes:
    """The write request between its `checked_parts`: one statement more before the request
    than `render` sends (the counts), so a cell sending it counts `len(setup) + 1` setup
    statements (RequestRunner.execute then finds the request's result, ignoring the rest)."""
    settings = request_settings(viewer, request.method, request.path, claims=claims)
    return b";\n".join([parts[0], settings.as_bytes(None), request.query.as_bytes(None),
                        parts[1]])


def execute_checked(
    conn: psycopg.Connection, text: bytes, setup_statements: int
) -> tuple[Outcome, ReadBack | None]:
    """Send a checked cell (autocommit connection; `setup_statements` counts the counts too);
    its outcome as RequestRunner.execute gives it, and the read-back when the request ran
    without error."""
    cur = conn.cursor()
    try:
        cur.execute(text)
    except psycopg.Error as exc:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        state = exc.sqlstate or "?"
        return Outcome([], 0, f"{state}: {(exc.diag.message_primary or str(exc)).strip()}"), None
    results: list[tuple[list[tuple[Any, ...]], int]] = []
    while True:
        results.append((cur.fetchall() if cur.description else [], cur.rowcount))
        if not cur.nextset():
            break
    query_rows, rowcount = results[setup_statements + 2]
    return Outcome(query_rows, rowcount), _parse([r for r, _ in results], setup_statements)


def _parse(results: list[list[tuple[Any, ...]]], setup_statements: int) -> ReadBack:
    before = results[setup_statements][0][0]
    after = results[-3][0][0]
    checked = results[-2][0][0]
    if isinstance(checked, str):
        checked = json.loads(checked)
    row, same = (checked[0], checked[1]) if checked else (None, {})
    return ReadBack(tuple(b - a for a, b in zip(before, after, strict=True)), row, same)
