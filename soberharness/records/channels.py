"""Records of the private channel matrix: one cell (actor x topic x extension x receive/send),
what Realtime Authorization answered for it, and a cell whose answer the rules forbid."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ChannelCell:
    """One question Realtime asks the database: may `actor` read or write `extension` on
    `topic`? `expected` is the rules' answer (docs/access-decisions.md)."""

    actor: str  # readable: "stranger towards O_private"
    topic_label: str  # readable: "live:O_private"
    topic: str  # the topic as Realtime sets it
    extension: str  # broadcast, presence
    op: str  # read, write
    expected: bool

    def describe(self) -> str:
        return f"{self.actor} {self.op} {self.extension} on {self.topic_label}"


@dataclasses.dataclass(frozen=True)
class ChannelAnswer:
    """What the database answered: allowed or refused, or the error it raised instead."""

    cell: ChannelCell
    allowed: bool
    error: str = ""


@dataclasses.dataclass(frozen=True)
class ChannelFinding:
    """A cell answered against the rules (or with an error)."""

    cell: ChannelCell
    allowed: bool
    error: str = ""

    def describe(self) -> str:
        verdict = f"error {self.error}" if self.error else (
            "allowed" if self.allowed else "refused")
        want = "allowed" if self.cell.expected else "refused"
        return f"{self.cell.describe()}: {verdict}, the rules say {want}"
