"""Audit logging (seed 5.2.6) on the target's GoTrue: a fresh user's sign-up, an admin's change
to them, their sign-in, token refresh and sign-out, and the admin's deletion of them each leave a
row in auth.audit_log_entries naming the right actor, stamped within the run. What was logged,
by whom, for whom and when goes into the run report (user ids and role names, no e-mails)."""

from __future__ import annotations

from typing import Any

import pytest

from soberharness.checker import auth_audit
from soberharness.clients.gotrue import GoTrueClient
from soberharness.report.run_report import RunReport
from soberharness.runner.auth_audit import (
    AuditedActions,
    audit_entries,
    key_role,
    make_audited_actions,
)
from soberharness.services import auth as gotrue
from soberharness.targets.base import Target
from soberharness.workload.auth_target import PASSWORD, TestUsers, auth_flag, service_key

NOTE = "audit log (GoTrue)"


def _skip_unless_audited_signups(target: Target) -> None:
    disabled, setting = auth_flag(target, gotrue.AUDIT_DISABLE_POSTGRES)
    if disabled:
        pytest.skip(f"the target's GoTrue writes no audit rows to PostgreSQL: {setting}")
    no_signup, setting = auth_flag(target, "GOTRUE_DISABLE_SIGNUP")
    if no_signup:
        pytest.skip(f"the target's GoTrue takes no sign-ups: {setting}")


@pytest.mark.needs("auth", "postgres")
def test_auth_actions_are_in_the_audit_log_with_their_actor(
    target: Target, auth_client: GoTrueClient, admin_client: GoTrueClient, users: TestUsers,
    run_report: RunReport,
) -> None:
    _skip_unless_audited_signups(target)
    autoconfirm, _ = auth_flag(target, "GOTRUE_MAILER_AUTOCONFIRM")
    made = AuditedActions()
    try:
        make_audited_actions(auth_client, admin_client, target.admin_dsn(), users.email("audit"),
                             PASSWORD, autoconfirm, key_role(service_key(target)), made,
                             users.track)
    finally:
        entries = audit_entries(target.admin_dsn(), made.user_id) if made.user_id else []
        note: dict[str, Any] = {
            "setting": str(auth_flag(target, gotrue.AUDIT_DISABLE_POSTGRES)[1]),
            "actions": [f"{e.step}: {e.action}" for e in made.expected],
            "rows": auth_audit.compliance(entries),
        }
        leaked = auth_audit.leaks(note, made.secrets)
        run_report.notes[NOTE] = {"withheld": leaked} if leaked else note
    assert made.window is not None
    assert leaked == [], "the compliance report would leak: " + "; ".join(leaked)
    found = auth_audit.unlogged(made.expected, entries, made.window)
    assert found == [], "\n".join(found)
