"""GoTrue's needs from the database bootstrap, and GoTrue + Mailpit on a throwaway PostgreSQL.

The bootstrap checks run wherever PostgreSQL is installed. The signup test needs the GoTrue binary
(scripts/install-services.sh; the Go module proxy must serve github.com/supabase/auth) and skips,
naming it, when absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.targets.services.gotrue import GoTrueConfig, GoTrueProcess, database_url
from soberharness.targets.services.mailpit import MailpitProcess
from soberharness.targets.services.tools import find_tool, missing_reason

JWT_SECRET = "selftest-jwt-secret-at-least-32-characters-long"


@pytest.fixture(scope="module")
def bootstrapped_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A throwaway PostgreSQL with stack/bootstrap applied; yields its port."""
    try:
        from soberharness.targets.migrations import apply_file, bootstrap_files
        from soberharness.targets.postgres import PostgresServer

        server = PostgresServer(tmp_path_factory.mktemp("gotrue-pg") / "pg")
        files = bootstrap_files()
    except HarnessError as exc:
        pytest.skip(f"postgres not available: {exc}")
    server.start()
    try:
        with server.admin() as conn:
            for path in files:
                apply_file(conn, path)
        yield server.port
    finally:
        server.stop()


def _connect_as_gotrue(port: int) -> psycopg.Connection:
    # GoTrue's URL, as libpq takes it (it ignores search_path as a URL parameter; the role's
    # own search_path setting is what applies, and GoTrue sets it from the URL too).
    url = database_url(port).replace("?search_path=auth&", "?")
    return db_session.connect(url, autocommit=True, connect_timeout=10)


def test_database_url_shape() -> None:
    assert database_url(5599) == (
        "postgres://supabase_auth_admin@127.0.0.1:5599/postgres?search_path=auth&sslmode=disable"
    )


def test_bootstrap_gives_gotrue_what_it_needs(bootstrapped_pg: int) -> None:
    with _connect_as_gotrue(bootstrapped_pg) as conn:
        assert conn.execute("show search_path").fetchone() == ("auth",)
        owner = conn.execute(
            "select nspowner::regrole::text from pg_namespace where nspname = 'auth'"
        ).fetchone()
        assert owner == ("supabase_auth_admin",)
        roles = {r for (r,) in conn.execute(
            "select rolname from pg_roles where rolname = any(%s)",
            (["postgres", "anon", "authenticated", "service_role"],),
        )}
        assert roles == {"postgres", "anon", "authenticated", "service_role"}
        # GoTrue's migrations create tables/types and replace the claim functions as this role.
        with conn.transaction():
            conn.execute("create table auth.selftest_probe (id int)")
            conn.execute("create type auth.selftest_kind as enum ('a')")
            conn.execute(
                "create or replace function auth.uid() returns uuid language sql stable "
                "set search_path = '' as $$ select null::uuid $$"
            )
            raise psycopg.Rollback()  # leave nothing behind
    with _connect_as_gotrue(bootstrapped_pg) as conn:
        assert conn.execute("select to_regclass('auth.selftest_probe')").fetchone() == (None,)
        assert conn.execute("select count(*) from auth.schema_migrations").fetchone()[0] > 0


def test_gotrue_config_env_names() -> None:
    env = GoTrueConfig(
        database_url=database_url(5599), jwt_secret=JWT_SECRET, port=9999, smtp_port=1025
    ).env()
    assert env["GOTRUE_API_PORT"] == env["PORT"] == "9999"
    assert env["API_EXTERNAL_URL"] == "http://127.0.0.1:9999"
    assert env["GOTRUE_SMTP_PORT"] == "1025"
    assert env["GOTRUE_MAILER_AUTOCONFIRM"] == "false"
    assert env["GOTRUE_MFA_TOTP_ENROLL_ENABLED"] == "true"
    assert env["GOTRUE_JWT_ADMIN_ROLES"] == "service_role"
    no_mail = GoTrueConfig(database_url="x", jwt_secret=JWT_SECRET, port=1).env()
    assert "GOTRUE_SMTP_HOST" not in no_mail


def test_signup_sends_a_confirmation_mail(bootstrapped_pg: int, tmp_path: Path) -> None:
    if find_tool("gotrue") is None:
        pytest.skip(missing_reason("gotrue"))
    if find_tool("mailpit") is None:
        pytest.skip(missing_reason("mailpit"))
    mailpit = MailpitProcess(tmp_path / "mailpit").start()
    gotrue = GoTrueProcess(
        GoTrueConfig(
            database_url=database_url(bootstrapped_pg),
            jwt_secret=JWT_SECRET,
            smtp_port=mailpit.smtp_port,
        ),
        tmp_path / "gotrue",
    )
    try:
        gotrue.start()
        assert httpx.get(f"{gotrue.url}/health", timeout=5).status_code == 200
        email = "selftest.signup@example.test"
        response = httpx.post(f"{gotrue.url}/signup",
                              json={"email": email, "password": "correct horse 42"}, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json().get("confirmation_sent_at")
        mail = mailpit.client.wait_for(email, "confirm", timeout=15)
        link = re.search(r"https?://\S+/verify\?[^\s\"'<>]+", mail.text or mail.html)
        assert link, "the confirmation mail carries a /verify link"
        query = parse_qs(urlparse(link.group(0).replace("&amp;", "&")).query)
        assert query["type"] == ["signup"]
        verify = httpx.get(f"{gotrue.url}/verify", params={"token": query["token"][0],
                                                           "type": "signup"}, timeout=10)
        assert verify.status_code in (302, 303)
        assert "access_token=" in verify.headers["location"]
        token = httpx.post(f"{gotrue.url}/token", params={"grant_type": "password"},
                           json={"email": email, "password": "correct horse 42"}, timeout=10)
        assert token.status_code == 200 and token.json()["user"]["email"] == email
    finally:
        gotrue.stop()
        mailpit.stop()
