"""Judging GoTrue's audit trail (pure: records in, findings and report rows out).

`unlogged` names each action a test made that `auth.audit_log_entries` does not hold with the
right actor within the run; `compliance` is what the run report says was logged, for whom and
when (user ids and admin role names, never e-mails); `leaks` finds personal data or secrets in
what is bound for a report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from soberharness.records.auth_audit import (
    NIL_ACTOR,
    AuthAuditEntry,
    ExpectedAuthAction,
    Window,
)
from soberharness.records.redact import redact

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_$]{0,62}")
EMAIL = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+\.[a-z]{2,}", re.I)
SOURCE = "auth.audit_log_entries"


def actor_ref(entry: AuthAuditEntry) -> str:
    """Who acted, safe to report: a user's id, or the role of the API key an admin call used
    (GoTrue logs it as the nil actor's username; anything but a role name is not shown)."""
    if entry.actor_id != NIL_ACTOR:
        return entry.actor_id
    role = entry.actor_username if ROLE_NAME.fullmatch(entry.actor_username) else "unnamed"
    return f"{role} (API key)"


def _actor_ok(entry: AuthAuditEntry, want: ExpectedAuthAction) -> bool:
    return entry.actor_id == want.actor_id and (
        not want.admin_role or entry.actor_username == want.admin_role)


def _finding(want: ExpectedAuthAction, entries: Sequence[AuthAuditEntry],
             window: Window) -> str | None:
    about = [e for e in entries if e.action == want.action and e.subject == want.subject]
    if any(_actor_ok(e, want) and window.holds(e.at) for e in about):
        return None
    head = f"{want.action} (step '{want.step}', user {want.subject})"
    if not about:
        return f"unlogged auth action: {head}: no row in {SOURCE}"
    acted = [e for e in about if _actor_ok(e, want)]
    if not acted:
        wanted = f"{want.admin_role} (API key)" if want.admin_role else want.actor_id
        return (f"auth action logged with the wrong actor: {head}: logged by "
                f"{', '.join(sorted({actor_ref(e) for e in about}))}, expected {wanted}")
    return (f"auth action logged outside the run: {head}: at "
            f"{', '.join(e.at.isoformat(timespec='seconds') for e in acted)}, "
            f"the run's actions were made {window.describe()}")


def unlogged(expected: Iterable[ExpectedAuthAction], entries: Sequence[AuthAuditEntry],
             window: Window) -> list[str]:
    """One finding per expected action no row records with its actor within the window."""
    return [f for want in expected if (f := _finding(want, entries, window)) is not None]


# The compliance report's columns: name -> what it shows of a row (never actor_username of a
# user, nor traits such as user_email/user_phone: personal data).
Column = Callable[[AuthAuditEntry], str]
COLUMNS: Mapping[str, Column] = {
    "when": lambda e: e.at.isoformat(timespec="milliseconds"),
    "who": actor_ref,
    "what": lambda e: f"{e.log_type} {e.action}".strip(),
    "for": lambda e: e.subject,
    "source": lambda e: SOURCE,
}


def compliance(entries: Iterable[AuthAuditEntry],
               columns: Mapping[str, Column] = COLUMNS) -> list[dict[str, str]]:
    """What was logged, by whom, for whom, when: one row per entry, oldest first."""
    return [{name: show(e) for name, show in columns.items()}
            for e in sorted(entries, key=lambda e: (e.at, e.id))]


def _walk(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif value is not None:
        yield path, str(value)


def leaks(report: Any, known: Iterable[str] = ()) -> list[str]:
    """Where `report` (a note bound for the run report) holds an e-mail address, a token or
    one of the `known` secrets: one line per value, naming its path (never the value)."""
    secrets = [s for s in known if s]
    found = []
    for path, text in _walk(report, ""):
        if EMAIL.search(text):
            found.append(f"{path}: an e-mail address")
        elif redact(text, secrets) != text:
            found.append(f"{path}: a key, token or secret")
    return found
