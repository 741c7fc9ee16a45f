"""pgaudit's lines in a PostgreSQL server log, and what must be in them (pure: text in,
records and findings out).

A session audit line is `<prefix>LOG:  AUDIT: SESSION,<statement id>,<substatement id>,<class>,
<command>,<object type>,<object name>,<statement>,<parameter>` (CSV after `AUDIT: `). The
stack's prefix (SERVER_SETTINGS' log_line_prefix) carries the time, the process, and the
session's user and database: who did it, where, when.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterable, Sequence

from soberharness.ops.judge import Finding

# What the stack's PostgreSQL runs with for audit logging (the roles' pgaudit.log comes from
# stack/bootstrap/95_audit.sql).
LOG_LINE_PREFIX = "%m [%p] %q%u@%d "
SERVER_SETTINGS = {"shared_preload_libraries": "pgaudit", "log_line_prefix": LOG_LINE_PREFIX}

_LINE = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+) \[(?P<pid>\d+)\] "
                   r"(?:(?P<user>[^@\s]*)@(?P<database>\S*) )?LOG:  AUDIT: (?P<csv>.*)$")


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    at: str
    user: str  # the session's user (a SET ROLE does not change it)
    database: str
    audit_type: str  # SESSION | OBJECT
    audit_class: str  # ROLE | DDL | WRITE | READ | FUNCTION | MISC
    command: str  # GRANT, CREATE POLICY, INSERT, ...
    object_type: str
    object_name: str
    statement: str

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def parse(log_text: str) -> list[AuditRecord]:
    records = []
    for line in log_text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        fields = next(csv.reader([match.group("csv")]))
        if len(fields) < 8:
            continue
        records.append(AuditRecord(
            match.group("at"), match.group("user") or "", match.group("database") or "",
            fields[0], fields[3], fields[4], fields[5], fields[6], fields[7]))
    return records


@dataclasses.dataclass(frozen=True)
class Expected:
    """An audited change: the probe that made it, and the line it must leave."""

    probe: str
    audit_class: str
    command: str
    statement: str  # exactly as the probe sent it


def unlogged(expected: Iterable[Expected], records: Sequence[AuditRecord]) -> list[Finding]:
    """One finding per change no audit line records (its class, command and statement)."""
    found = []
    for want in expected:
        if not any(r.audit_class == want.audit_class and r.command == want.command
                   and r.statement == want.statement for r in records):
            found.append(Finding("unlogged change", want.probe,
                                 f"no AUDIT line {want.audit_class},{want.command} "
                                 f"for: {want.statement[:120]}"))
    return found


def compliance(records: Iterable[AuditRecord], expected: Iterable[Expected]
               ) -> list[dict[str, str]]:
    """What was logged, for whom, when: the records of the expected changes, for the report.
    `who` is the session's login@database (pgaudit does not name a role a session SET)."""
    statements = {e.statement for e in expected}
    return [{"when": r.at, "who": f"{r.user}@{r.database}",
             "what": f"{r.audit_class} {r.command}", "object": r.object_name,
             "statement": r.statement[:200]}
            for r in records if r.statement in statements]
