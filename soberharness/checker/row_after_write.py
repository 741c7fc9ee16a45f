"""Judging the row after a write: an allowed write leaves exactly the row the model expects
(every column the model knows as written, the rest of the table untouched); a refused write
leaves its table as it was. Pure: what the superuser read back in the cell's transaction in,
drifts out."""

from __future__ import annotations

import dataclasses
from typing import Any

from soberharness.records.noninterference import RowDrift

TABLE = "(table)"
OTHER_ROWS = "(other rows)"
ROW = "(row)"


@dataclasses.dataclass(frozen=True)
class ReadBack:
    """What the superuser read in the cell's transaction, before the request and after it."""

    table_before: str  # digest of the whole table
    table_after: str
    others_before: str  # digest of the rows other than the written one
    others_after: str
    row: dict[str, Any] | None  # the written row after the request (None: no such row)
    same: dict[str, bool]  # per column the model knows: equal to the expected value


def drifts(
    cell: str,
    relation: str,
    deleted: bool,
    expected: dict[str, Any],
    model_allows: bool,
    database_allowed: bool,
    back: ReadBack,
) -> list[RowDrift]:
    """What is wrong with the table after one write cell (empty when nothing)."""
    if not database_allowed:
        if back.table_before != back.table_after:
            return [RowDrift(cell, relation, TABLE, back.table_before, back.table_after)]
        return []
    if not model_allows:
        return []  # the matrix reports the cell itself
    out: list[RowDrift] = []
    if back.others_before != back.others_after:
        out.append(RowDrift(cell, relation, OTHER_ROWS, back.others_before, back.others_after))
    if deleted:
        if back.row is not None:
            out.append(RowDrift(cell, relation, ROW, None, back.row))
        return out
    if back.row is None:
        return [*out, RowDrift(cell, relation, ROW, expected, None)]
    return out + [RowDrift(cell, relation, col, expected.get(col), back.row.get(col))
                  for col, same in sorted(back.same.items()) if not same]
