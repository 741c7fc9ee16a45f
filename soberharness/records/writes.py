"""The record of one write a step sends: insert a row, turn a row into another, or delete one.

Rows are the world's entities (soberharness.world); this record names no type of theirs, so it
stays below the world: `Write[Entity]` is the write of a sequence step.
"""

from __future__ import annotations

import dataclasses
from typing import Generic, TypeVar

from soberharness.records.results import Op

RowT = TypeVar("RowT")


@dataclasses.dataclass(frozen=True)
class Write(Generic[RowT]):
    """One request of a step in world terms: insert `target`, turn `target` into `after`,
    or delete `target`. `sends` names the fields an update sets even when their value does
    not change (a PATCH body carries the columns the client sets, changed or not)."""

    op: Op
    target: RowT
    after: RowT | None = None
    sends: frozenset[str] = frozenset()
