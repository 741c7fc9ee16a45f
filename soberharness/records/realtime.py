"""Realtime's records: one postgres_changes event as a subscriber received it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any


@dataclasses.dataclass(frozen=True)
class ChangeEvent:
    schema: str
    table: str
    type: str
    commit_timestamp: dt.datetime | None
    record: dict[str, Any]
    ids: tuple[int, ...] = ()
    old_record: dict[str, Any] = dataclasses.field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def row(self) -> dict[str, Any]:
        """The row the event is about: the new record, or for a DELETE the old one (its
        primary key only, as Realtime sends it)."""
        return self.old_record if self.type == "DELETE" else self.record
