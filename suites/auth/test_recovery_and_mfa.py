"""Password recovery through the mailed link; MFA TOTP enroll -> challenge -> verify (aal2)."""

from __future__ import annotations

import psycopg
import pyotp
import pytest

from soberharness.checker.auth_state import (
    amr_methods,
    challenge_row,
    factors_of,
    sessions_of,
    user_row,
)
from soberharness.clients.gotrue import GoTrueClient
from soberharness.clients.mailpit import mail_ids_to, wait_for_link
from soberharness.clients.mailpit_api import MailpitClient
from soberharness.runner.tokens_into_rls import claims_from_token
from soberharness.targets.base import Target
from soberharness.workload.auth_target import PASSWORD, TestUsers
from soberharness.workload.flow import Flow, refused

NEW_PASSWORD = "Recovered-Pass-2026!"


@pytest.mark.needs("auth", "mail")
def test_password_recovery_through_the_mailed_link(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, mail: MailpitClient, users: TestUsers
) -> None:
    flow = Flow("password recovery")
    user = users.confirmed("recover")
    with flow.step("ask for recovery"):
        earlier = mail_ids_to(mail, user.email)
        auth_client.recover(user.email)
        row = user_row(auth_db, user.email)
        assert row is not None and row["recovery_sent_at"] is not None
        old_hash = row["encrypted_password"]
    with flow.step("the mail holds a recovery link"):
        link = wait_for_link(mail, user.email, "recovery", skip_mail_ids=earlier)
    with flow.step("follow the link"):
        session = auth_client.verify("recovery", link.token, link.redirect_to).session
        assert session is not None, "no session in the recovery redirect"
    with flow.step("set a new password"):
        auth_client.update_user(session.access_token, password=NEW_PASSWORD)
        row = user_row(auth_db, user.email)
        assert row is not None and row["encrypted_password"] != old_hash
        assert row["recovery_token"] in ("", None)
    with flow.step("old password refused, new one signs in"):
        assert refused(lambda: auth_client.sign_in_password(user.email, PASSWORD)).status == 400
        auth_client.sign_in_password(user.email, NEW_PASSWORD)
    with flow.step("the link works once"):
        refused(lambda: auth_client.verify("recovery", link.token, link.redirect_to))


@pytest.mark.needs("auth")
def test_totp_enroll_challenge_verify_raises_the_session_to_aal2(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    flow = Flow("MFA TOTP")
    secret = target.keys.jwt_secret
    assert secret
    user = users.confirmed("mfa")
    session = auth_client.sign_in_password(user.email, PASSWORD)
    with flow.step("enroll"):
        factor = auth_client.enroll_totp(session.access_token, friendly_name="phone app")
        assert factor.type == "totp" and factor.secret and factor.uri.startswith("otpauth://")
        rows = factors_of(auth_db, user.id)
        assert rows[factor.id]["status"] == "unverified"
        assert rows[factor.id]["factor_type"] == "totp"
    with flow.step("a wrong code is refused"):
        challenge = auth_client.challenge(session.access_token, factor.id)
        assert challenge_row(auth_db, challenge.id) is not None
        wrong = "000000" if pyotp.TOTP(factor.secret).now() != "000000" else "111111"
        error = refused(lambda: auth_client.verify_factor(
            session.access_token, factor.id, challenge.id, wrong))
        assert error.status == 422 and error.code == "mfa_verification_failed", error
        assert factors_of(auth_db, user.id)[factor.id]["status"] == "unverified"
    with flow.step("challenge and verify with the TOTP code"):
        challenge = auth_client.challenge(session.access_token, factor.id)
        upgraded = auth_client.verify_factor(
            session.access_token, factor.id, challenge.id, pyotp.TOTP(factor.secret).now())
    with flow.step("the token says aal2"):
        claims = claims_from_token(upgraded.access_token, secret)
        assert claims["aal"] == "aal2"
        assert "totp" in {entry.get("method") for entry in claims.get("amr", [])}
    with flow.step("auth tables"):
        assert factors_of(auth_db, user.id)[factor.id]["status"] == "verified"
        row = challenge_row(auth_db, challenge.id)
        assert row is not None and row["verified_at"] is not None
        sessions = sessions_of(auth_db, user.id)
        assert str(sessions[claims["session_id"]]["aal"]) == "aal2"
        assert "totp" in amr_methods(auth_db, claims["session_id"])
    with flow.step("a new password login starts at aal1"):
        fresh = auth_client.sign_in_password(user.email, PASSWORD)
        assert claims_from_token(fresh.access_token, secret)["aal"] == "aal1"
