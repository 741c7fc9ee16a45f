"""Password login, refresh rotation and reuse, logout scopes, two devices, session report."""

from __future__ import annotations

import time

import psycopg
import pytest

from soberharness.checker.auth_state import (
    refresh_token_row,
    refresh_tokens_of_session,
    seconds_until_reuse_ends,
    session_report,
    sessions_of,
    user_row,
)
from soberharness.clients.gotrue import GoTrueClient
from soberharness.runner.tokens_into_rls import claims_from_token
from soberharness.targets.base import Target
from soberharness.workload.auth_target import (
    ALGORITHM,
    PASSWORD,
    ROTATION,
    TestUsers,
    auth_flag,
    auth_setting,
    reuse_interval,
)
from soberharness.workload.flow import Flow, refused


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
def test_refresh_rotates_and_reuse_follows_the_reuse_interval(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    """GoTrue's rules for a revoked refresh token, for the target's reuse interval N
    (GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL as the target declares it, else GoTrue's
    default, 0: see targets/service_settings.py): the parent of the active token gives the
    active token back; any other revoked token is accepted within N s of its last update and
    mints a new child (the family forks); past that it is reuse: 400
    refresh_token_already_used, and every token of the session is revoked — with their update
    time set to now, so for N > 0 the formerly active token is forgiven for another N s, while
    for N = 0 it died with the family."""
    rotation, rotation_setting = auth_flag(target, ROTATION)
    if not rotation:
        pytest.skip(f"target '{target.name}' does not rotate refresh tokens: {rotation_setting}")
    algorithm = auth_setting(target, ALGORITHM)
    if algorithm.value.strip() == "2":
        pytest.skip(f"target '{target.name}' uses GoTrue's session-based refresh tokens, not "
                    f"the auth.refresh_tokens rows this test follows: {algorithm}")
    interval, setting = reuse_interval(target)
    flow = Flow(f"refresh rotation ({setting})")
    user = users.confirmed("refresh")
    with flow.step("sign in, refresh twice"):
        first = auth_client.sign_in_password(user.email, PASSWORD)
        second = auth_client.refresh(first.refresh_token)
        third = auth_client.refresh(second.refresh_token)
        assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    session_id = next(iter(sessions_of(auth_db, user.id)))
    with flow.step("rotation in auth.refresh_tokens"):
        rows = {r["token"]: r for r in refresh_tokens_of_session(auth_db, session_id)}
        assert rows[first.refresh_token]["revoked"] is True
        assert rows[second.refresh_token]["revoked"] is True
        assert rows[third.refresh_token]["revoked"] is False
        assert rows[second.refresh_token]["parent"] == first.refresh_token
        assert rows[third.refresh_token]["parent"] == second.refresh_token
    with flow.step("the parent of the active token gives the active token back"):
        assert auth_client.refresh(second.refresh_token).refresh_token == third.refresh_token
    reused = first.refresh_token  # revoked, and not the parent of the active token
    if interval > 0:
        with flow.step("the grandparent within the interval forks the family"):
            fork = auth_client.refresh(first.refresh_token)
            assert fork.refresh_token not in {first.refresh_token, second.refresh_token,
                                              third.refresh_token}
            row = refresh_token_row(auth_db, fork.refresh_token)
            assert row is not None and row["parent"] == first.refresh_token
            assert row["revoked"] is False
        # The fork is now the active token and `first` its parent: reuse `second` instead.
        reused = second.refresh_token
        with flow.step(f"wait past the {interval} s interval"):
            time.sleep(seconds_until_reuse_ends(auth_db, reused, interval) + 1.0)
    with flow.step("a revoked token past its interval is refused as reuse"):
        error = refused(lambda: auth_client.refresh(reused))
        assert (error.status, error.code) == (400, "refresh_token_already_used"), error
    with flow.step("the family is revoked"):
        tokens = refresh_tokens_of_session(auth_db, session_id)
        assert tokens and all(t["revoked"] for t in tokens), tokens
    if interval > 0:
        with flow.step("the formerly active token is forgiven for another interval"):
            renewed = auth_client.refresh(third.refresh_token)
            assert renewed.refresh_token != third.refresh_token
    else:
        with flow.step("the active token died with it"):
            error = refused(lambda: auth_client.refresh(third.refresh_token))
            assert error.status == 400, error


def _several_sessions(target: Target) -> None:
    single, setting = auth_flag(target, "GOTRUE_SESSIONS_SINGLE_PER_USER")
    if single:
        pytest.skip(f"target '{target.name}' keeps one session per user: {setting} (see "
                    "test_session_limits.py)")


@pytest.mark.needs("auth")
def test_logout_scopes_across_devices(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    _several_sessions(target)
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
    _several_sessions(target)
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
