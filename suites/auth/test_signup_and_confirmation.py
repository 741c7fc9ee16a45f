"""Signup: weak password, malformed and duplicate e-mail refused; the mailed confirmation link."""

from __future__ import annotations

import psycopg
import pytest

from soberharness.checker.auth_state import sessions_of, user_row, users_with_email
from soberharness.clients.gotrue import GoTrueClient, GoTrueError
from soberharness.clients.mailpit import wait_for_link
from soberharness.clients.mailpit_api import MailpitClient
from soberharness.workload.auth_target import PASSWORD, TestUsers
from soberharness.workload.flow import Flow, refused


@pytest.mark.needs("auth")
def test_weak_password_is_refused_and_no_user_is_made(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    flow = Flow("signup with a weak password")
    email = users.email("weak")
    with flow.step("signup"):
        error = refused(lambda: auth_client.signup(email, "123"))
        assert error.status == 422 and error.code == "weak_password", error
    with flow.step("no auth.users row"):
        assert users_with_email(auth_db, email) == 0


@pytest.mark.needs("auth")
@pytest.mark.parametrize("email", ["not-an-email", "two@@signs.test", "spaces in@it.test"])
def test_malformed_email_is_refused_and_no_user_is_made(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, email: str
) -> None:
    flow = Flow("signup with a malformed e-mail")
    with flow.step("signup"):
        error = refused(lambda: auth_client.signup(email, PASSWORD))
        assert error.status in (400, 422), error
    with flow.step("no auth.users row"):
        assert users_with_email(auth_db, email) == 0


@pytest.mark.needs("auth")
def test_duplicate_email_neither_adds_a_user_nor_takes_the_account(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    """GoTrue refuses a duplicate outright when it autoconfirms, and otherwise answers with an
    obfuscated user (not to reveal who is registered); either way nothing changes."""
    flow = Flow("signup with a registered e-mail")
    with flow.step("an existing, confirmed user"):
        existing = users.confirmed("dup")
        before = user_row(auth_db, existing.email)
        assert before is not None
    with flow.step("sign up again with another password"):
        try:
            result = auth_client.signup(existing.email.upper(), "Another-Pass-2026!")
        except GoTrueError as exc:
            assert exc.status in (400, 422), exc
            assert exc.code in ("user_already_exists", "email_exists", "unknown"), exc
        else:
            assert result.session is None, "a duplicate signup was handed a session"
            assert result.user.id != existing.id, "the real user id leaked"
    with flow.step("one row, hash unchanged"):
        assert users_with_email(auth_db, existing.email) == 1
        after = user_row(auth_db, existing.email)
        assert after is not None and after["encrypted_password"] == before["encrypted_password"]
    with flow.step("only the original password signs in"):
        auth_client.sign_in_password(existing.email, PASSWORD)
        error = refused(lambda: auth_client.sign_in_password(existing.email, "Another-Pass-2026!"))
        assert error.status == 400, error


@pytest.mark.needs("auth", "mail")
def test_confirmation_link_from_the_mail_confirms_and_signs_in(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, mail: MailpitClient, users: TestUsers
) -> None:
    flow = Flow("signup confirmation")
    email = users.email("confirm")
    with flow.step("signup"):
        result = auth_client.signup(email, PASSWORD)
        if result.session is not None:
            pytest.skip("the target's 'auth' service autoconfirms e-mail: no confirmation mail")
        row = user_row(auth_db, email)
        assert row is not None, "no auth.users row after signup"
        assert row["email_confirmed_at"] is None
        assert row["confirmation_sent_at"] is not None
    with flow.step("password login refused before confirmation"):
        error = refused(lambda: auth_client.sign_in_password(email, PASSWORD))
        assert error.status == 400, error
        assert not sessions_of(auth_db, row["id"])
    with flow.step("the mail holds a signup link"):
        link = wait_for_link(mail, email, "signup")
    with flow.step("follow the link"):
        redirect = auth_client.verify("signup", link.token, link.redirect_to)
        session = redirect.session
        assert session is not None, f"no session in the redirect {redirect.location}"
    with flow.step("auth.users confirmed, one session"):
        row = user_row(auth_db, email)
        assert row is not None and row["email_confirmed_at"] is not None
        assert row["confirmation_token"] in ("", None)
        assert len(sessions_of(auth_db, row["id"])) == 1
        assert auth_client.get_user(session.access_token).email == email
    with flow.step("the link works once"):
        refused(lambda: auth_client.verify("signup", link.token, link.redirect_to))
