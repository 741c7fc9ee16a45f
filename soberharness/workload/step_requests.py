"""A step's writes as the requests PostgREST and the Storage API send (one per write)."""

from __future__ import annotations

from psycopg import sql

from soberharness.access.transitions import DELETION_REQUESTS, Row, StepWrite
from soberharness.clients.postgrest_sql import Request
from soberharness.db import sql as rows
from soberharness.records.results import Op
from soberharness.world.entities import DeletionRequest, StoredObject

_METHOD = {Op.INSERT: "POST", Op.UPDATE: "PATCH", Op.DELETE: "DELETE"}

# Entity fields a step sends, as the columns they are stored in.
_COLUMN = {"hidden": "hidden_at", "status": "status", "privacy": "privacy", "name": "name",
           "bucket": "bucket_id"}


def row_of(row: Row) -> rows.Row:
    if isinstance(row, DeletionRequest):
        return rows.Row("public", DELETION_REQUESTS, {"user_id": row.user}, ("user_id",))
    return rows.row_of(row)


def _path(row: Row) -> str:
    if isinstance(row, StoredObject):
        return f"/storage/v1/object/{row.bucket}/{row.name}"
    return f"/rest/v1/{row_of(row).table}"


def _update(before: rows.Row, after: rows.Row, sent: set[str]) -> sql.Composed:
    """UPDATE setting the changed columns and the ones the client sends."""
    columns = [c for c, v in after.values.items() if before.values.get(c) != v or c in sent]
    if not columns:
        return rows.update(before, after)
    return sql.SQL("UPDATE {} SET {} WHERE {}").format(
        before.name,
        sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(after.values[c]))
            for c in columns
        ),
        before.where(),
    )


def request_of(write: StepWrite) -> Request:
    target = row_of(write.target)
    match write.op:
        case Op.INSERT:
            query = rows.insert(target)
        case Op.UPDATE:
            assert write.after is not None
            query = _update(target, row_of(write.after), {_COLUMN[f] for f in write.sends})
        case Op.DELETE:
            query = rows.delete(target)
        case _:
            raise ValueError(f"not a write: {write.op}")
    return Request(query, _METHOD[write.op], _path(write.target))
