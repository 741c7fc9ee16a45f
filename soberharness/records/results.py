"""Result records shared by the checkers and the reports."""

from __future__ import annotations

import dataclasses
from enum import StrEnum


class Op(StrEnum):
    SELECT = "select"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One cell of the access matrix: who does what to which row of whose content."""

    table: str  # profiles, follows, blocks, posts, videos, comments, likes, objects:avatars, ...
    op: Op
    actor: str  # anon, self, follower, requested, stranger, blocked, moderator, service
    privacy: str  # the owner's privacy level
    case: str = ""  # what exactly: "visible", "hidden", "set hidden_at", "other's like", ...
    token: str = ""  # the token variant a signed-in actor sent (db.claims.TokenVariant)

    def label(self) -> str:
        case = f" [{self.case}]" if self.case else ""
        # "with <variant> claims", never "... token": reports redact what follows a word
        # "token" (soberharness.records.redact), which would mask the outcome beside the label.
        claims = f" with {self.token} claims" if self.token else ""
        return f"{self.actor} {self.op.value} {self.table}{case} of a {self.privacy} owner{claims}"


@dataclasses.dataclass(frozen=True)
class CellResult:
    cell: Cell
    expected: bool  # allowed according to the access model
    actual: bool  # allowed according to the database
    detail: str = ""  # error message or row count from the database
    seconds: float = dataclasses.field(default=0.0, compare=False)  # the request's wall time

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


# The finding of exposed surface the access model cannot judge (function, view, REST path).
UNMODELLED_RULE = "unmodelled_exposed_surface"


class Severity(StrEnum):
    ERROR = "error"
    WARN = "warn"
    INFO = "info"  # reported, never failing: what would matter once a schema is exposed


@dataclasses.dataclass(frozen=True)
class LintFinding:
    """A static finding about the schema, in the spirit of Supabase's splinter."""

    rule: str  # e.g. "rls_disabled_in_public"
    severity: Severity
    object: str  # qualified name of the table, view or function
    message: str
    declared: str | None = None  # the declaration file's reason, for an accepted warning
