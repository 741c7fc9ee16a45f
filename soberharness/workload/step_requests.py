"""A step's writes as the requests PostgREST and the Storage API send (one per write)."""

from __future__ import annotations

from soberharness.access.transitions import DELETION_REQUESTS, DeletionRequest, Row, Write
from soberharness.checker.results import Op
from soberharness.clients.postgrest_sql import Request
from soberharness.workload import sql as rows
from soberharness.world.entities import StoredObject

_METHOD = {Op.INSERT: "POST", Op.UPDATE: "PATCH", Op.DELETE: "DELETE"}


def row_of(row: Row) -> rows.Row:
    if isinstance(row, DeletionRequest):
        return rows.Row("public", DELETION_REQUESTS, {"user_id": row.user}, ("user_id",))
    return rows.row_of(row)


def _path(row: Row) -> str:
    if isinstance(row, StoredObject):
        return f"/storage/v1/object/{row.bucket}/{row.name}"
    return f"/rest/v1/{row_of(row).table}"


def request_of(write: Write) -> Request:
    target = row_of(write.target)
    match write.op:
        case Op.INSERT:
            query = rows.insert(target)
        case Op.UPDATE:
            assert write.after is not None
            query = rows.update(target, row_of(write.after))
        case Op.DELETE:
            query = rows.delete(target)
        case _:
            raise ValueError(f"not a write: {write.op}")
    return Request(query, _METHOD[write.op], _path(write.target))
