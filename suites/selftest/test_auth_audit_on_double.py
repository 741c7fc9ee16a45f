"""The auth suite's audit-log check (suites/auth/test_audit_log.py), a path only targets with
GoTrue reach, run in CI through a target file over the GoTrue protocol double, which writes its
audit rows into this run's database as GoTrue does (testing/gotrue_double_audit.py).

A GoTrue that logs every action passes, with or without autoconfirm, and the run report says
what was logged for whom and when with no e-mail in it. Planted: a GoTrue that does not log
token refresh fails as exactly that action; a target declaring GOTRUE_AUDIT_LOG_DISABLE_POSTGRES
is skipped naming it; a report that leaks an e-mail (or a token) is caught, naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from soberharness.checker import auth_audit
from soberharness.clients.gotrue import GoTrueClient
from soberharness.errors import BadInput
from soberharness.records.auth_audit import (
    NIL_ACTOR,
    AuthAuditEntry,
    ExpectedAuthAction,
    Window,
)
from soberharness.report import audit_section
from soberharness.runner.auth_audit import (
    AuditedActions,
    audit_entries,
    key_role,
    make_audited_actions,
)
from soberharness.runner.rest_matrix import RestKeys
from soberharness.targets.base import Target
from soberharness.testing.gotrue_double_audit import REFRESH_NOT_AUDITED
from soberharness.testing.gotrue_protocol_double import GoTrueProtocolDouble, default_settings
from soberharness.testing.pytest_runs import double_env, double_target

REPO = Path(__file__).resolve().parents[2]
TEST = "suites/auth/test_audit_log.py"
NAME = "auth-audit-double"
NOTE = "audit log (GoTrue)"
FINDING = re.compile(r"(unlogged auth action|auth action logged [a-z ]+): (\w+) \(step '([^']+)'")


def _run(tmp_path: Path, target: Target, dsn: str, planted: frozenset[str] = frozenset(),
         autoconfirm: bool = False, declared: str = "", audit: bool = True
         ) -> tuple[int, str, dict[str, Any], list[str]]:
    """The audit test against the double: exit status, output, its report note, and the
    actions the double logged."""
    settings = default_settings() | {"mailer_autoconfirm": autoconfirm}
    with GoTrueProtocolDouble(settings=settings, planted=planted,
                              audit_dsn=dsn if audit else None) as double:
        path = double_target(tmp_path, NAME, {"auth": double.url})
        if declared:
            path.write_text(path.read_text() + f"[settings]\n{declared}\n")
        report = tmp_path / "reports" / "latest"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", TEST,
             "--target", str(path), "--report-dir", str(report)],
            cwd=REPO, env=double_env(tmp_path, target.keys.jwt_secret or "", dsn),
            capture_output=True, text=True, timeout=300)
        logged = list(double.audit.actions)
    summary = report / "summary.json"
    text = summary.read_text() if summary.is_file() else "{}"
    assert "@auth-suite.sobertube.test" not in text, "an e-mail reached summary.json"
    notes = json.loads(text).get("notes", {})
    return done.returncode, done.stdout + done.stderr, notes.get(NOTE, {}), logged


def _findings(output: str) -> list[tuple[str, str, str]]:
    return sorted(set(FINDING.findall(output)))


@pytest.mark.needs("postgres")
def test_every_action_logged_passes_and_is_reported_by_id(
        tmp_path: Path, target: Target, scratch_database: str) -> None:
    status, output, note, logged = _run(tmp_path, target, scratch_database)
    assert status == 0, output[-3000:]
    assert "1 passed" in output, output[-2000:]
    assert note["actions"] == [
        "sign up: user_confirmation_requested", "admin confirms: user_modified",
        "sign in: login", "refresh: token_refreshed", "sign out: logout",
        "admin deletes: user_deleted"], note
    rows = note["rows"]
    assert [r["what"] for r in rows] == [
        "user user_confirmation_requested", "user user_modified", "account login",
        "token token_refreshed", "token token_revoked", "account logout", "team user_deleted"]
    assert [r["what"].split()[1] for r in rows] == logged
    user = rows[0]["for"]
    assert all(r["for"] == user for r in rows), rows
    assert {r["who"] for r in rows} == {user, "service_role (API key)"}, rows
    assert "GOTRUE_AUDIT_LOG_DISABLE_POSTGRES=false (from GoTrue's default" in note["setting"]
    assert auth_audit.leaks(note) == []
    page = next((tmp_path / "reports" / "runs").glob("*/index.html")).read_text()
    assert "<h3>audit log (GoTrue): 7 entries</h3>" in page
    audit = page.split("id='audit'")[1].split("id='chaos'")[0]
    assert f"<td class='l wrap'>{user}</td>" in audit and "@" not in audit


@pytest.mark.needs("postgres")
def test_with_autoconfirm_the_sign_up_is_user_signedup(
        tmp_path: Path, target: Target, scratch_database: str) -> None:
    status, output, note, _ = _run(tmp_path, target, scratch_database, autoconfirm=True)
    assert status == 0, output[-3000:]
    assert note["actions"][0] == "sign up: user_signedup", note
    assert [r["what"] for r in note["rows"]][:2] == ["team user_signedup", "account login"]


@pytest.mark.needs("postgres")
def test_planted_unlogged_refresh_is_reported_as_exactly_that_action(
        tmp_path: Path, target: Target, scratch_database: str) -> None:
    status, output, note, logged = _run(tmp_path, target, scratch_database,
                                        planted=frozenset({REFRESH_NOT_AUDITED}))
    assert status == 1, output[-3000:]
    assert "token_refreshed" not in logged and "token_revoked" in logged, logged
    assert _findings(output) == [("unlogged auth action", "token_refreshed", "refresh")], \
        output[-3000:]
    assert "Traceback" not in output
    assert "token token_refreshed" not in [r["what"] for r in note["rows"]]


@pytest.mark.needs("postgres")
def test_a_target_whose_gotrue_writes_no_audit_rows_is_skipped_naming_the_setting(
        tmp_path: Path, target: Target, scratch_database: str) -> None:
    status, output, note, _ = _run(tmp_path, target, scratch_database, audit=False,
                                   declared='GOTRUE_AUDIT_LOG_DISABLE_POSTGRES = "true"')
    assert status == 5, output[-3000:]  # every selected test skipped: nothing was checked
    assert "1 skipped" in output, output[-2000:]
    assert "GOTRUE_AUDIT_LOG_DISABLE_POSTGRES=true (from target file" in output, output[-2000:]
    assert note == {}


@pytest.mark.needs("postgres")
def test_the_flow_in_process_reads_back_what_the_double_wrote(scratch_database: str) -> None:
    """The runner's flow and read-back in this process (the suite runs them in a subprocess
    above): with autoconfirm, the sign-up's own login row comes first and is not required."""
    keys = RestKeys.minted("a-jwt-secret-for-the-audit-selftest-32")
    settings = default_settings() | {"mailer_autoconfirm": True}
    made = AuditedActions()
    with GoTrueProtocolDouble(settings=settings, audit_dsn=scratch_database) as double, \
            GoTrueClient(double.url, keys.anon_key, timeout=5.0) as auth, \
            GoTrueClient(double.url, keys.service_key, timeout=5.0) as admin:
        make_audited_actions(auth, admin, scratch_database, "reader@example.test",
                             "a-long-password-1", True, key_role(keys.service_key), made)
    entries = audit_entries(scratch_database, made.user_id)
    assert made.window is not None and made.window.began <= made.window.ended
    assert [e.action for e in entries] == [
        "user_signedup", "login", "user_modified", "login", "token_refreshed", "token_revoked",
        "logout", "user_deleted"]
    assert auth_audit.unlogged(made.expected, entries, made.window) == []
    assert {e.actor_username for e in entries if e.actor_id == NIL_ACTOR} == {"service_role"}
    assert "reader@example.test" in made.secrets and len(made.secrets) == 8
    assert audit_entries(scratch_database, "22222222-2222-4222-8222-222222222222") == []


# ------------------------------------------------------------------ the judge, in process

USER = "11111111-1111-4111-8111-111111111111"
T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
WINDOW = Window(T0, T0 + dt.timedelta(seconds=30), slack_s=5)
EXPECTED = [ExpectedAuthAction("sign in", "login", USER, USER),
            ExpectedAuthAction("admin deletes", "user_deleted", NIL_ACTOR, USER, "service_role")]


def _entry(action: str, actor: str, username: str, seconds: float = 1,
           traits: dict[str, Any] | None = None) -> AuthAuditEntry:
    return AuthAuditEntry(f"id-{action}", T0 + dt.timedelta(seconds=seconds), action, "x",
                          actor, username, traits or {})


GOOD = [_entry("login", USER, "someone@example.test"),
        _entry("user_deleted", NIL_ACTOR, "service_role", 2,
               {"user_id": USER, "user_email": "someone@example.test"})]


def test_the_judge_names_the_wrong_actor_and_a_time_outside_the_run() -> None:
    assert auth_audit.unlogged(EXPECTED, GOOD, WINDOW) == []
    by_other = [GOOD[0], _entry("user_deleted", NIL_ACTOR, "supabase_admin", 2,
                                {"user_id": USER})]
    assert auth_audit.unlogged(EXPECTED, by_other, WINDOW) == [
        f"auth action logged with the wrong actor: user_deleted (step 'admin deletes', user "
        f"{USER}): logged by supabase_admin (API key), expected service_role (API key)"]
    late = [_entry("login", USER, "someone@example.test", 3600), GOOD[1]]
    found = auth_audit.unlogged(EXPECTED, late, WINDOW)
    assert len(found) == 1 and found[0].startswith(
        f"auth action logged outside the run: login (step 'sign in', user {USER}): at "
        "2026-01-01T13:00:00+00:00, the run's actions were made 2026-01-01T12:00:00+00:00 .. "
        "2026-01-01T12:00:30+00:00 (± 5 s)"), found


def test_planted_report_leaking_an_email_is_caught_naming_the_field() -> None:
    assert auth_audit.leaks(auth_audit.compliance(GOOD)) == []
    leaking = {**auth_audit.COLUMNS, "who": lambda e: e.actor_username}
    assert auth_audit.leaks({"rows": auth_audit.compliance(GOOD, leaking)}) == [
        "rows[0].who: an e-mail address"]
    with_traits = {**auth_audit.COLUMNS, "details": lambda e: json.dumps(dict(e.traits))}
    assert auth_audit.leaks(auth_audit.compliance(GOOD, with_traits)) == [
        "[1].details: an e-mail address"]


def test_a_token_or_a_known_secret_in_a_report_is_caught() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert auth_audit.leaks({"rows": [{"note": f"bearer {token}"}]}) == [
        "rows[0].note: a key, token or secret"]
    assert auth_audit.leaks(["Sober-Tube-2026!"], known=["Sober-Tube-2026!"]) == [
        "[0]: a key, token or secret"]
    # an admin actor that is no role name is never shown as it was logged
    odd = _entry("user_deleted", NIL_ACTOR, "ops@example.test", traits={"user_id": USER})
    assert auth_audit.actor_ref(odd) == "unnamed (API key)"


def test_the_run_page_shows_both_audit_logs_and_withholds_a_leaking_one() -> None:
    pgaudit = [{"when": "2026-01-01 12:00:00.000 UTC", "who": "supabase_admin@db",
                "what": "ROLE GRANT", "object": "", "statement": "grant select on t to anon"}]
    gotrue = {"setting": "GOTRUE_AUDIT_LOG_DISABLE_POSTGRES=false", "actions": ["sign in: login"],
              "rows": auth_audit.compliance(GOOD)}
    page = "\n".join(audit_section.section({"audit log (pgaudit)": pgaudit,
                                             "audit log (GoTrue)": gotrue, "other": 1}))
    assert "<h3>audit log (GoTrue): 2 entries</h3>" in page
    assert "<h3>audit log (pgaudit): 1 entries</h3>" in page
    assert "service_role (API key)" in page and "ROLE GRANT" in page and "@example" not in page
    leaking = {"rows": auth_audit.compliance(GOOD, {**auth_audit.COLUMNS,
                                                    "who": lambda e: e.actor_username})}
    page = "\n".join(audit_section.section({"audit log (GoTrue)": leaking}))
    assert "withheld: personal data or secrets at rows[0].who: an e-mail address" in page
    assert "someone@example.test" not in page
    assert "No audit log was read" in "".join(audit_section.section({"other": 1}))


def test_a_service_key_that_is_no_jwt_is_one_line() -> None:
    with pytest.raises(BadInput, match=r"^the target's service key is not a JWT"):
        key_role("sb_secret_not-a-jwt")
