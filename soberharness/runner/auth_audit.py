"""Audited auth actions made for real on a target's GoTrue, and its audit trail read back.

`make_audited_actions` signs a fresh user up, has an admin (the service key) confirm them
(`PUT /admin/users/{id}`, a user_modified by the key's role), signs in, refreshes the session,
signs out and has the admin delete the user; it says which action GoTrue must log for each step
(soberharness.services.auth: sign-up is `user_signedup` when GoTrue autoconfirms e-mail, else
`user_confirmation_requested`) and when, by the database's clock, they were made.
`audit_entries` reads the user's rows of auth.audit_log_entries as the database's superuser;
checker/auth_audit.py judges them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import jwt

from soberharness.clients.gotrue import AuthUser, GoTrueClient
from soberharness.db import session as db_session
from soberharness.errors import BadInput
from soberharness.records.auth_audit import AuthAuditEntry, ExpectedAuthAction, Window
from soberharness.services import auth as gotrue
from soberharness.workload.flow import Flow

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_MS = 15_000
# GoTrue stamps created_at with its own clock, the window is the database's: allowed between them.
CLOCK_SLACK_S = 120.0


@dataclasses.dataclass
class AuditedActions:
    """What was done: the user, the actions GoTrue must have logged, when, and the secrets the
    flow handled (its e-mail, password and tokens: none may reach a report)."""

    user_id: str = ""
    expected: list[ExpectedAuthAction] = dataclasses.field(default_factory=list)
    window: Window | None = None
    secrets: list[str] = dataclasses.field(default_factory=list)


def key_role(api_key: str) -> str:
    """The role an API key's claims carry (what GoTrue names an admin call's actor by)."""
    try:
        claims = jwt.decode(api_key, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise BadInput("the target's service key is not a JWT, so the role GoTrue logs admin "
                       "calls under cannot be read from it") from None
    return str(claims.get("role") or "")


def database_now(dsn: str) -> dt.datetime:
    with db_session.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        row = conn.execute("select clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def make_audited_actions(auth: GoTrueClient, admin: GoTrueClient, dsn: str, email: str,
                         password: str, autoconfirm: bool, admin_role: str,
                         made: AuditedActions,
                         track: Callable[[AuthUser], object] | None = None) -> AuditedActions:
    """Run the audited flow, filling `made` as it goes (so a failing step leaves what was done
    for the caller to clean up); `track(user)` is called with the signed-up user."""
    flow = Flow("audited auth actions")
    made.secrets += [email, password]
    began = database_now(dsn)

    def expect(step: str, action: str, by_admin: bool = False) -> None:
        actor = gotrue.AUDIT_KEY_ACTOR_ID if by_admin else made.user_id
        made.expected.append(ExpectedAuthAction(step, action, actor, made.user_id,
                                                admin_role if by_admin else ""))

    with flow.step("sign up"):
        signed_up = auth.signup(email, password)
        made.user_id = signed_up.user.id
        if track is not None:
            track(signed_up.user)
        if signed_up.session is not None:
            made.secrets += [signed_up.session.access_token, signed_up.session.refresh_token]
        expect("sign up", gotrue.AUDIT_SIGNED_UP if autoconfirm
               else gotrue.AUDIT_CONFIRMATION_REQUESTED)
    with flow.step("admin confirms"):
        admin.admin_update_user(made.user_id, email_confirm=True,
                                user_metadata={"audit_probe": True})
        expect("admin confirms", gotrue.AUDIT_USER_MODIFIED, by_admin=True)
    with flow.step("sign in"):
        session = auth.sign_in_password(email, password)
        made.secrets += [session.access_token, session.refresh_token]
        expect("sign in", gotrue.AUDIT_LOGIN)
    with flow.step("refresh"):
        refreshed = auth.refresh(session.refresh_token)
        made.secrets += [refreshed.access_token, refreshed.refresh_token]
        expect("refresh", gotrue.AUDIT_TOKEN_REFRESHED)
    with flow.step("sign out"):
        auth.logout(refreshed.access_token)
        expect("sign out", gotrue.AUDIT_LOGOUT)
    with flow.step("admin deletes"):
        admin.admin_delete_user(made.user_id)
        expect("admin deletes", gotrue.AUDIT_USER_DELETED, by_admin=True)
    made.window = Window(began, database_now(dsn), CLOCK_SLACK_S)
    return made


def audit_entries(dsn: str, user_id: str) -> list[AuthAuditEntry]:
    """The rows of auth.audit_log_entries by or about `user_id`, read as the superuser."""
    with db_session.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(f"set statement_timeout = {STATEMENT_TIMEOUT_MS}")
        rows = conn.execute(
            f"select id, payload, created_at from {gotrue.AUDIT_TABLE} "
            "where payload->>'actor_id' = %(user)s "
            "or payload->'traits'->>'user_id' = %(user)s order by created_at, id",
            {"user": user_id}).fetchall()
    return [AuthAuditEntry.from_row(row_id, payload, created_at)
            for row_id, payload, created_at in rows]
