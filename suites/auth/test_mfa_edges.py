"""MFA edge cases (seed 3.1.4) on a real GoTrue: unenrolling a verified factor, challenge
expiry and the factor limit.

Pinned down here: GoTrue decides whether a verified factor may be unenrolled by the level of
the *session* in auth.sessions (aal2 after a verified challenge), not by the `aal` claim of
the token presented — a token re-signed to claim aal2 for an aal1 session is refused too.
"""

from __future__ import annotations

import psycopg
import pyotp
import pytest

from soberharness.checker.auth_state import factors_of, sessions_of
from soberharness.clients.gotrue import GoTrueClient, Session, TotpEnrollment
from soberharness.db.claims import sign
from soberharness.runner.tokens_into_rls import claims_from_token
from soberharness.targets.base import Target
from soberharness.workload.auth_target import PASSWORD, TestUsers, auth_number
from soberharness.workload.flow import Flow, refused

MAX_FACTORS = "GOTRUE_MFA_MAX_ENROLLED_FACTORS"


def _verified_factor(auth_client: GoTrueClient, session: Session) -> tuple[TotpEnrollment,
                                                                           Session]:
    factor = auth_client.enroll_totp(session.access_token, friendly_name="phone app")
    challenge = auth_client.challenge(session.access_token, factor.id)
    upgraded = auth_client.verify_factor(session.access_token, factor.id, challenge.id,
                                         pyotp.TOTP(factor.secret).now())
    return factor, upgraded


@pytest.mark.needs("auth", "postgres")
def test_unenrolling_a_verified_factor_needs_an_aal2_session(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    flow = Flow("MFA unenroll")
    secret = target.keys.jwt_secret
    assert secret
    user = users.confirmed("mfa-unenroll")
    with flow.step("enroll and verify a TOTP factor"):
        factor, aal2 = _verified_factor(auth_client, auth_client.sign_in_password(
            user.email, PASSWORD))
    with flow.step("an aal1 session is refused"):
        aal1 = auth_client.sign_in_password(user.email, PASSWORD)
        error = refused(lambda: auth_client.unenroll(aal1.access_token, factor.id))
        assert (error.status, error.code) == (422, "insufficient_aal"), error
        assert factors_of(auth_db, user.id)[factor.id]["status"] == "verified"
    with flow.step("an aal1 session's token re-signed to claim aal2 is refused as well"):
        claims = claims_from_token(aal1.access_token, secret)
        forged = sign(claims | {"aal": "aal2"}, secret)
        error = refused(lambda: auth_client.unenroll(forged, factor.id))
        assert (error.status, error.code) == (422, "insufficient_aal"), error
        assert factor.id in factors_of(auth_db, user.id)
    with flow.step("the aal2 session unenrolls it, and the user's sessions drop to aal1"):
        auth_client.unenroll(aal2.access_token, factor.id)
        assert factor.id not in factors_of(auth_db, user.id)
        levels = {str(s["aal"]) for s in sessions_of(auth_db, user.id).values()}
        assert levels == {"aal1"}, levels


@pytest.mark.needs("auth", "postgres")
def test_an_expired_challenge_cannot_be_verified(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    """GoTrue expires a challenge GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION seconds (at least 300)
    after its creation; the challenge is aged in the database rather than waited for."""
    flow = Flow("MFA challenge expiry")
    user = users.confirmed("mfa-expiry")
    session = auth_client.sign_in_password(user.email, PASSWORD)
    factor = auth_client.enroll_totp(session.access_token, friendly_name="phone app")
    with flow.step("a challenge, aged past the longest expiry GoTrue allows by default"):
        challenge = auth_client.challenge(session.access_token, factor.id)
        auth_db.execute("UPDATE auth.mfa_challenges SET created_at = created_at - "
                        "interval '1 day' WHERE id = %s", (challenge.id,))
    with flow.step("verifying it is refused"):
        error = refused(lambda: auth_client.verify_factor(
            session.access_token, factor.id, challenge.id, pyotp.TOTP(factor.secret).now()))
        assert (error.status, error.code) == (422, "mfa_challenge_expired"), error
        assert factors_of(auth_db, user.id)[factor.id]["status"] == "unverified"
    with flow.step("a new challenge verifies"):
        fresh = auth_client.challenge(session.access_token, factor.id)
        auth_client.verify_factor(session.access_token, factor.id, fresh.id,
                                  pyotp.TOTP(factor.secret).now())
        assert factors_of(auth_db, user.id)[factor.id]["status"] == "verified"


@pytest.mark.needs("auth", "postgres")
def test_enrolled_factors_stop_at_the_limit(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    number, setting = auth_number(target, MAX_FACTORS)
    limit = int(number)
    flow = Flow(f"MFA factor limit ({setting})")
    user = users.confirmed("mfa-limit")
    session = auth_client.sign_in_password(user.email, PASSWORD)
    with flow.step(f"enroll {limit} factors"):
        for n in range(limit):
            auth_client.enroll_totp(session.access_token, friendly_name=f"device {n}")
        assert len(factors_of(auth_db, user.id)) == limit
    with flow.step("one more is refused"):
        error = refused(lambda: auth_client.enroll_totp(session.access_token,
                                                        friendly_name="one too many"))
        assert (error.status, error.code) == (422, "too_many_enrolled_mfa_factors"), error
        assert len(factors_of(auth_db, user.id)) == limit
