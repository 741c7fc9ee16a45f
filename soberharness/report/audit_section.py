"""The run page's audit-log section (seed 5.2.6, the compliance report): what was logged, by
whom, for whom and when, from every note whose key starts with "audit log" — PostgreSQL's
(pgaudit, suites/ops/test_audit.py) and GoTrue's (auth.audit_log_entries,
suites/auth/test_audit_log.py). A note holding an e-mail address or a token is withheld, not
shown (checker/auth_audit.leaks names where)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from soberharness.checker.auth_audit import leaks

PREFIX = "audit log"


def _e(value: Any) -> str:
    return html.escape(str(value))


def audit_notes(notes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(notes.items()) if k.startswith(PREFIX)}


def rows_of(note: Any) -> list[Mapping[str, Any]]:
    """The logged entries of a note: the note itself (a list of rows) or its "rows"."""
    rows = note.get("rows") if isinstance(note, Mapping) else note
    return [r for r in rows or [] if isinstance(r, Mapping)] if isinstance(rows, list) else []


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    head = "".join(f"<th class='l'>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td class='l wrap'>{_e(r.get(c, ''))}</td>"
                                     for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _facts(note: Any) -> list[str]:
    if not isinstance(note, Mapping):
        return []
    return [f"<li>{_e(k)}: {_e(', '.join(map(str, v)) if isinstance(v, list) else v)}</li>"
            for k, v in note.items() if k != "rows"]


def section(notes: Mapping[str, Any]) -> list[str]:
    out = ["<h2 id='audit'>Audit log</h2>"]
    found = audit_notes(notes)
    if not found:
        return [*out, "<p>No audit log was read in this run (suites/ops/test_audit.py, "
                      "suites/auth/test_audit_log.py).</p>"]
    for key, note in found.items():
        rows = rows_of(note)
        out.append(f"<h3>{_e(key)}: {len(rows)} entries</h3>")
        leaked = leaks(note)
        if leaked:
            out.append(f"<p class='bad-box'>withheld: personal data or secrets at "
                       f"{_e('; '.join(leaked))}</p>")
            continue
        facts = _facts(note)
        if facts:
            out.append("<ul>" + "".join(facts) + "</ul>")
        if rows:
            out.append(_table(rows))
    return out
