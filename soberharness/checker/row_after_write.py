"""Judging the row after a write: an allowed write leaves exactly the row the model expects
(every column the model knows as written, the rest of the table untouched); a refused write
leaves its table as it was. Pure: what the superuser read back in the cell's transaction in,
drifts out."""

from __future__ import annotations

import dataclasses
from typing import Any

from soberharness.records.noninterference import RowDrift

TABLE = "(table)"
OTHER_ROWS = "(rows written)"
ROW = "(row)"


# The rows one write of each kind touches in its own table: (inserted, updated, deleted).
EXPECTED_WRITES: dict[str, tuple[int, int, int]] = {
    "insert": (1, 0, 0), "update": (0, 1, 0), "delete": (0, 0, 1)}
NO_WRITES = (0, 0, 0)


@dataclasses.dataclass(frozen=True)
class ReadBack:
    """What the superuser read in the cell's transaction after the request."""

    written: tuple[int, ...]  # rows of the table the request inserted, updated, deleted
    row: dict[str, Any] | None  # the written row after the request (None: no such row)
    same: dict[str, bool]  # per column the model knows: equal to the expected value


def drifts(
    cell: str,
    relation: str,
    op: str,
    expected: dict[str, Any],
    model_allows: bool,
    database_allowed: bool,
    back: ReadBack,
) -> list[RowDrift]:
    """What is wrong with the table after one write cell (`op`: insert, update, delete)."""
    if not database_allowed:
        if back.written != NO_WRITES:
            return [RowDrift(cell, relation, TABLE, NO_WRITES, back.written)]
        return []
    if not model_allows:
        return []  # the matrix reports the cell itself
    out: list[RowDrift] = []
    # An allowed write writes its row, so no rows counted means the server keeps no counts
    # (track_counts off): the counts say nothing then.
    if back.written not in (EXPECTED_WRITES[op], NO_WRITES):
        out.append(RowDrift(cell, relation, OTHER_ROWS, EXPECTED_WRITES[op], back.written))
    if op == "delete":
        if back.row is not None:
            out.append(RowDrift(cell, relation, ROW, None, back.row))
        return out
    if back.row is None:
        return [*out, RowDrift(cell, relation, ROW, expected, None)]
    return out + [RowDrift(cell, relation, col, expected.get(col), back.row.get(col))
                  for col, same in sorted(back.same.items()) if not same]
