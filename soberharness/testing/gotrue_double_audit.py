"""The GoTrue protocol double's audit trail: rows in a real database's auth.audit_log_entries,
written as supabase/auth writes them (internal/models/audit_log_entry.go, NewAuditLogEntry, read
there at v2.186.0 and v2.196.0, not copied).

Per audited action one row: a new `id` (UUID v4), `instance_id` the nil UUID, `created_at` by
the service's own clock, `ip_address` '' (the sign-up, password, refresh, logout and admin user
routes pass none), and `payload` {actor_id, actor_via_sso, actor_username (the e-mail, or the
phone when there is one), action, log_type, traits (when given)}, `actor_name` when the user
metadata has a `full_name`. An admin call made with an API key is acted by the nil UUID named by
the key's role. A refresh logs `token_refreshed`, then `token_revoked` for the swapped token.

GoTrue migrates its schema when it starts; of its migrations, the one the rows need on the
stack's bootstrap is applied by `prepare()` (20220614074223: `ip_address`, if not there yet).

Planted defect: `REFRESH_NOT_AUDITED` writes no `token_refreshed` (the `token_revoked` still).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from typing import Any

from soberharness.db import session as db_session

REFRESH_NOT_AUDITED = "refresh-not-audited"
AUDIT_PLANTED = frozenset({REFRESH_NOT_AUDITED})
NIL = "00000000-0000-0000-0000-000000000000"
# internal/models/audit_log_entry.go, ActionLogTypeMap (the actions the double makes)
LOG_TYPES = {"login": "account", "logout": "account", "user_signedup": "team",
             "user_deleted": "team", "token_refreshed": "token", "token_revoked": "token",
             "user_modified": "user", "user_confirmation_requested": "user",
             "user_repeated_signup": "user"}
IP_ADDRESS_MIGRATION = ("alter table auth.audit_log_entries "
                        "add column if not exists ip_address varchar(64) not null default ''")


@dataclasses.dataclass(frozen=True)
class Actor:
    id: str
    username: str  # e-mail (or phone) of a user; the role of an API key
    full_name: Any = None

    @classmethod
    def of_user(cls, user: dict[str, Any]) -> Actor:
        return cls(str(user["id"]), str(user.get("phone") or user.get("email") or ""),
                   (user.get("user_metadata") or {}).get("full_name"))

    @classmethod
    def of_key(cls, role: str) -> Actor:
        return cls(NIL, role)


def subject_traits(user: dict[str, Any]) -> dict[str, Any]:
    """What GoTrue's admin routes log about the user they acted on."""
    return {"user_id": user["id"], "user_email": user.get("email") or "",
            "user_phone": user.get("phone") or ""}


class AuditTrail:
    """Writes the double's audit rows into `dsn`'s auth.audit_log_entries (None: writes none,
    as a GoTrue with GOTRUE_AUDIT_LOG_DISABLE_POSTGRES=true)."""

    def __init__(self, dsn: str | None, planted: frozenset[str] = frozenset()) -> None:
        self.dsn = dsn
        self.planted = planted & AUDIT_PLANTED
        self.actions: list[str] = []

    def prepare(self) -> None:
        if self.dsn:
            with db_session.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
                conn.execute("set statement_timeout = 10000")
                conn.execute(IP_ADDRESS_MIGRATION)

    def log(self, actor: Actor, action: str, traits: dict[str, Any] | None = None) -> None:
        if action == "token_refreshed" and REFRESH_NOT_AUDITED in self.planted:
            return
        payload: dict[str, Any] = {"actor_id": actor.id, "actor_via_sso": False,
                                   "actor_username": actor.username, "action": action,
                                   "log_type": LOG_TYPES[action]}
        if actor.full_name is not None:
            payload["actor_name"] = actor.full_name
        if traits is not None:
            payload["traits"] = traits
        self.actions.append(action)
        if not self.dsn:
            return
        with db_session.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("set statement_timeout = 10000")
            conn.execute(
                "insert into auth.audit_log_entries "
                "(instance_id, id, payload, created_at, ip_address) "
                "values (%s, %s, %s, %s, '')",
                (NIL, str(uuid.uuid4()), json.dumps(payload), dt.datetime.now(dt.UTC)))
