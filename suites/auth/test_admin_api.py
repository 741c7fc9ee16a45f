"""The admin API: create, list, get, ban, unban, delete with the service key; every one of
those refused with the anon key, and nothing changed by the refused calls."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from soberharness.checker.auth_state import user_row, users_with_email
from soberharness.clients.gotrue import GoTrueClient
from soberharness.workload.auth_target import PASSWORD, TestUsers
from soberharness.workload.flow import Flow, refused


@pytest.mark.needs("auth")
def test_admin_with_the_service_key_creates_bans_and_deletes(
    admin_client: GoTrueClient, auth_client: GoTrueClient, auth_db: psycopg.Connection,
    users: TestUsers,
) -> None:
    flow = Flow("admin API (service key)")
    email = users.email("admin")
    with flow.step("create"):
        made = admin_client.admin_create_user(email, PASSWORD, email_confirm=True,
                                              user_metadata={"handle": "made_by_admin"})
        row = user_row(auth_db, email)
        assert row is not None and str(row["id"]) == made.id
        assert row["email_confirmed_at"] is not None
        assert row["raw_user_meta_data"].get("handle") == "made_by_admin"
    with flow.step("list and get"):
        listed = {u.id for page in (1, 2, 3) for u in admin_client.admin_list_users(page, 200)}
        assert made.id in listed
        assert admin_client.admin_get_user(made.id).email == email
    with flow.step("a session before the ban"):
        before_ban = auth_client.sign_in_password(email, PASSWORD)
    with flow.step("ban for 24h"):
        admin_client.admin_update_user(made.id, ban_duration="24h")
        row = user_row(auth_db, email)
        assert row is not None and row["banned_until"] is not None
        assert row["banned_until"] > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
    with flow.step("a banned user neither signs in nor refreshes"):
        assert refused(lambda: auth_client.sign_in_password(email, PASSWORD)).status == 400
        assert refused(lambda: auth_client.refresh(before_ban.refresh_token)).status in (400, 403)
    with flow.step("unban"):
        admin_client.admin_update_user(made.id, ban_duration="none")
        row = user_row(auth_db, email)
        assert row is not None and row["banned_until"] is None
        auth_client.sign_in_password(email, PASSWORD)
    with flow.step("delete"):
        admin_client.admin_delete_user(made.id)
        assert users_with_email(auth_db, email) == 0
        assert refused(lambda: admin_client.admin_get_user(made.id)).status == 404


@pytest.mark.needs("auth")
def test_admin_calls_with_the_anon_key_are_refused_and_change_nothing(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    flow = Flow("admin API (anon key)")
    victim = users.confirmed("victim")
    before = user_row(auth_db, victim.email)
    new_email = users.email("not-made")
    calls = {
        "create": lambda: auth_client.admin_create_user(new_email, PASSWORD),
        "list": lambda: auth_client.admin_list_users(),
        "get": lambda: auth_client.admin_get_user(victim.id),
        "ban": lambda: auth_client.admin_update_user(victim.id, ban_duration="24h"),
        "delete": lambda: auth_client.admin_delete_user(victim.id),
    }
    for name, call in calls.items():
        with flow.step(f"{name} refused"):
            error = refused(call)
            assert error.status in (401, 403), error
    with flow.step("nothing changed"):
        assert users_with_email(auth_db, new_email) == 0
        assert user_row(auth_db, victim.email) == before


@pytest.mark.needs("auth")
def test_a_user_token_is_no_admin_key(
    auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    flow = Flow("admin API (user token)")
    user = users.confirmed("self-promote")
    session = auth_client.sign_in_password(user.email, PASSWORD)
    with flow.step("a signed-in user calling /admin/users"):
        error = refused(lambda: auth_client.request("GET", "/admin/users",
                                                    token=session.access_token))
        assert error.status in (401, 403), error
    with flow.step("no ban happened"):
        row = user_row(auth_db, user.email)
        assert row is not None and row["banned_until"] is None
