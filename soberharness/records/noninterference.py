"""Records of the value-level oracles: non-interference differences, canary leaks and the row
left behind by a write. Plain data, shared by the runner, the checker and the reports."""

from __future__ import annotations

import dataclasses
from typing import Any

# A viewer's readable snapshot: qualified relation -> digest of every row and column it reads
# (an error the relation raised for that viewer is its digest too).
Snapshot = dict[str, str]
# A relation's rows as the viewer read them (column -> value), to explain a difference.
Rows = list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Change:
    """One change Δ to the world, made as the superuser: what and to which table."""

    table: str  # the model's table name: profiles, follows, posts, ...
    kind: str  # insert, update <column>, delete
    label: str  # readable: "insert follows (stranger -> O_private, pending)"

    def __str__(self) -> str:
        return self.label


@dataclasses.dataclass(frozen=True)
class Difference:
    """What a viewer read differently after a change the model says it cannot observe."""

    change: str
    viewer: str
    relation: str
    column: str  # "(row)" when a whole row appeared or disappeared
    before: Any
    after: Any
    row: str = ""  # the row's key, as readable text

    def describe(self) -> str:
        where = f"{self.relation}.{self.column}" + (f" of row {self.row}" if self.row else "")
        return (f"change [{self.change}] is visible to {self.viewer}: {where} "
                f"was {self.before!r}, is {self.after!r}")


@dataclasses.dataclass(frozen=True)
class CanaryLeak:
    """A marker of a hidden text found where a viewer who may not know it reads."""

    viewer: str
    marker: str
    source: str  # where the marked text lives: "public.posts.body of <id>"
    relation: str  # where the viewer read it
    column: str

    def describe(self) -> str:
        return (f"{self.viewer} reads canary {self.marker} of {self.source} "
                f"in {self.relation}.{self.column}")


@dataclasses.dataclass(frozen=True)
class RowDrift:
    """A column of the row an allowed write left that differs from the row the model expects,
    or a refused write that changed its table."""

    cell: str
    relation: str
    column: str
    expected: Any
    actual: Any

    def describe(self) -> str:
        return (f"after {self.cell}: {self.relation}.{self.column} is {self.actual!r}, "
                f"the model expects {self.expected!r}")
