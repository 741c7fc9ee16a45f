"""GoTrue's audit trail as plain records: a row of `auth.audit_log_entries`, and an auth action a
test made that must be in it.

GoTrue writes one row per audited action (supabase/auth internal/models/audit_log_entry.go,
NewAuditLogEntry, the same at v2.186.0 and v2.196.0): `id`, `created_at`, `ip_address` and a
JSON `payload` holding `actor_id`, `actor_via_sso`, `actor_username` (the actor's e-mail, or
phone), `action`, `log_type`, optionally `actor_name` and `traits`. An admin call made with an
API key has no user: its actor is the nil UUID named by the key's role (`service_role`), and the
user it acted on is `traits.user_id` (with `traits.user_email`: personal data too).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

NIL_ACTOR = "00000000-0000-0000-0000-000000000000"


@dataclasses.dataclass(frozen=True)
class AuthAuditEntry:
    """One row of auth.audit_log_entries. `actor_username` is personal data (an e-mail):
    it is read for judging only, never reported."""

    id: str
    at: dt.datetime
    action: str
    log_type: str
    actor_id: str
    actor_username: str
    traits: Mapping[str, Any]

    @property
    def subject(self) -> str:
        """The user the action was about: the user acted on by an admin, else the actor."""
        return str(self.traits.get("user_id") or self.actor_id)

    @classmethod
    def from_row(cls, row_id: object, payload: Mapping[str, Any] | None,
                 created_at: dt.datetime) -> AuthAuditEntry:
        data = payload or {}
        traits = data.get("traits")
        return cls(str(row_id), created_at, str(data.get("action") or ""),
                   str(data.get("log_type") or ""), str(data.get("actor_id") or ""),
                   str(data.get("actor_username") or ""),
                   dict(traits) if isinstance(traits, Mapping) else {})


@dataclasses.dataclass(frozen=True)
class ExpectedAuthAction:
    """An action the test made: the step that made it, the action GoTrue must log for it, the
    actor it must name (a user id, or the nil UUID and the admin role for a key's call) and
    the user it was about."""

    step: str
    action: str
    actor_id: str
    subject: str
    admin_role: str = ""  # the actor_username an admin (API key) call is logged under


@dataclasses.dataclass(frozen=True)
class Window:
    """When the actions were made, by the database's clock, widened by `slack_s` for the
    difference between GoTrue's clock (it stamps created_at) and the database's."""

    began: dt.datetime
    ended: dt.datetime
    slack_s: float

    def holds(self, at: dt.datetime) -> bool:
        slack = dt.timedelta(seconds=self.slack_s)
        return self.began - slack <= at <= self.ended + slack

    def describe(self) -> str:
        return (f"{self.began.isoformat(timespec='seconds')} .. "
                f"{self.ended.isoformat(timespec='seconds')} (± {self.slack_s:g} s)")
