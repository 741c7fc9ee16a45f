"""Password login, refresh rotation and reuse, logout scopes, two devices, session report."""

from __future__ import annotations

import psycopg
import pytest

from soberharness.checker.auth_state import (
    refresh_token_row,
    refresh_tokens_of_session,
    session_report,
    sessions_of,
    user_row,
)
from soberharness.clients.gotrue import GoTrueClient
from soberharness.targets.base import Target
from soberharness.workload.auth_target import PASSWORD, TestUsers
from soberharness.workload.flow import Flow, refused
from soberharness.workload.tokens_into_rls import claims_from_token


@pytest.mark.needs("auth")
def test_password_login_opens_one_session_with_a_live_refresh_token(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    flow = Flow("password login")
    user = users.confirmed("login")
    with flow.step("wrong password refused, no session"):
        error = refused(lambda: auth_client.sign_in_password(user.email, PASSWORD + "x"))
        assert error.status == 400, error
        assert not sessions_of(auth_db, user.id)
    with flow.step("sign in"):
        session = auth_client.sign_in_password(user.email, PASSWORD)
        assert session.token_type.lower() == "bearer" and session.expires_in > 0
    with flow.step("the access token's claims"):
        assert target.keys.jwt_secret
        claims = claims_from_token(session.access_token, target.keys.jwt_secret)
        assert claims["sub"] == user.id and claims["role"] == "authenticated"
        assert claims["aal"] == "aal1" and claims["email"] == user.email
    with flow.step("auth tables"):
        found = sessions_of(auth_db, user.id)
        assert list(found) == [claims["session_id"]]
        token = refresh_token_row(auth_db, session.refresh_token)
        assert token is not None and token["revoked"] is False
        assert str(token["session_id"]) == claims["session_id"]
        row = user_row(auth_db, user.email)
        assert row is not None and row["last_sign_in_at"] is not None


@pytest.mark.needs("auth")
def test_refresh_rotates_and_reusing_an_old_token_revokes_the_session(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    """Reusing the parent of the active token is forgiven within the reuse interval; reusing
    an older one (the grandparent) is an attack and revokes the whole family."""
    flow = Flow("refresh rotation")
    user = users.confirmed("refresh")
    with flow.step("sign in, refresh twice"):
        first = auth_client.sign_in_password(user.email, PASSWORD)
        second = auth_client.refresh(first.refresh_token)
        third = auth_client.refresh(second.refresh_token)
        assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    with flow.step("rotation in auth.refresh_tokens"):
        rows = {r["token"]: r for r in
                refresh_tokens_of_session(auth_db, next(iter(sessions_of(auth_db, user.id))))}
        assert rows[first.refresh_token]["revoked"] is True
        assert rows[second.refresh_token]["revoked"] is True
        assert rows[third.refresh_token]["revoked"] is False
        assert rows[second.refresh_token]["parent"] == first.refresh_token
        assert rows[third.refresh_token]["parent"] == second.refresh_token
    with flow.step("reuse the grandparent token"):
        error = refused(lambda: auth_client.refresh(first.refresh_token))
        assert error.status == 400, error
    with flow.step("the family is revoked"):
        session_id = next(iter(sessions_of(auth_db, user.id)), None)
        if session_id is not None:
            tokens = refresh_tokens_of_session(auth_db, session_id)
            assert tokens and all(t["revoked"] for t in tokens), tokens
    with flow.step("the active token died with it"):
        error = refused(lambda: auth_client.refresh(third.refresh_token))
        assert error.status == 400, error


@pytest.mark.needs("auth")
def test_logout_scopes_across_devices(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    flow = Flow("logout scopes")
    user = users.confirmed("logout")
    with flow.step("three devices sign in"):
        phone, laptop, tablet = (auth_client.sign_in_password(user.email, PASSWORD)
                                 for _ in range(3))
        assert len(sessions_of(auth_db, user.id)) == 3
    with flow.step("the laptop logs out (local)"):
        auth_client.logout(laptop.access_token, scope="local")
        assert len(sessions_of(auth_db, user.id)) == 2
        refused(lambda: auth_client.refresh(laptop.refresh_token))
        phone = auth_client.refresh(phone.refresh_token)
    with flow.step("the phone logs out the others"):
        auth_client.logout(phone.access_token, scope="others")
        assert len(sessions_of(auth_db, user.id)) == 1
        refused(lambda: auth_client.refresh(tablet.refresh_token))
        phone = auth_client.refresh(phone.refresh_token)
    with flow.step("the phone logs out everywhere (global)"):
        auth_client.logout(phone.access_token, scope="global")
        assert sessions_of(auth_db, user.id) == {}
        refused(lambda: auth_client.refresh(phone.refresh_token))


@pytest.mark.needs("auth")
def test_revoking_one_device_leaves_the_other_and_the_session_report_counts_them(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    """Seed 3.3: list a user's sessions across two devices, revoke one; its refresh token dies
    while the other device keeps refreshing."""
    flow = Flow("sessions across two devices")
    user, other = users.confirmed("devices"), users.confirmed("bystander")
    assert target.keys.jwt_secret
    with flow.step("two devices sign in"):
        phone = auth_client.sign_in_password(user.email, PASSWORD)
        laptop = auth_client.sign_in_password(user.email, PASSWORD)
        auth_client.sign_in_password(other.email, PASSWORD)
        listed = sessions_of(auth_db, user.id)
        ids = {claims_from_token(s.access_token, target.keys.jwt_secret)["session_id"]
               for s in (phone, laptop)}
        assert set(listed) == ids and len(ids) == 2
    with flow.step("session report"):
        report = session_report(auth_db, [user.id, other.id])
        assert report[user.id].count == 2 and report[other.id].count == 1
        assert report[user.id].oldest_age >= report[user.id].newest_age >= 0
    with flow.step("revoke the phone"):
        auth_client.logout(phone.access_token, scope="local")
        phone_session = claims_from_token(phone.access_token, target.keys.jwt_secret)
        assert set(sessions_of(auth_db, user.id)) == ids - {phone_session["session_id"]}
    with flow.step("the phone's refresh token is dead, the laptop's lives"):
        refused(lambda: auth_client.refresh(phone.refresh_token))
        renewed = auth_client.refresh(laptop.refresh_token)
        assert auth_client.get_user(renewed.access_token).id == user.id
        assert session_report(auth_db, [user.id])[user.id].count == 1
