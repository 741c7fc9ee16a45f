"""What the database answered to one request run as PostgREST runs it: rows, row count, error."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Outcome:
    rows: list[tuple[Any, ...]]
    rowcount: int
    error: str | None = None  # "SQLSTATE: message"

    @property
    def ok(self) -> bool:
        return self.error is None
