"""Functions the auth service calls are followed by the user_metadata lint: an access token
hook granted to supabase_auth_admin that reads user_metadata into a claim is named as exactly
that function; a hook only the auth settings name, reading it through a helper, as exactly the
helper; the clean stack and an app_metadata hook have none; hook settings are parsed."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from soberharness.access.planted_values import TRUSTING_HOOK_HELPER, TRUSTING_TOKEN_HOOK
from soberharness.db import session as db_session
from soberharness.lints.auth_hooks import hook_functions
from soberharness.lints.catalog import RULES, run_lints

RULE = [r for r in RULES if r.name == "policy_uses_user_metadata"]
HOOK_SETTINGS = {"GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI": "pg-functions://postgres/private/token_hook",
                 "GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED": "true",
                 "GOTRUE_HOOK_SEND_EMAIL_URI": "https://hooks.example/send"}


@pytest.fixture
def db(scratch_database: str) -> Iterator[psycopg.Connection]:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        yield conn


def _objects(db: psycopg.Connection, hooks: dict[str, str] | None = None) -> set[str]:
    return {f.object for f in run_lints(db, rules=RULE, auth_hooks=hooks)}


def test_hook_settings_name_postgres_functions_only() -> None:
    assert hook_functions(HOOK_SETTINGS) == {
        "private.token_hook": "GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI"}
    assert hook_functions({"GOTRUE_HOOK_X_URI": "pg-functions://postgres/public"}) == {}


@pytest.mark.needs("postgres")
def test_clean_stack_has_no_hook_reading_user_metadata(db: psycopg.Connection) -> None:
    assert _objects(db, hook_functions(HOOK_SETTINGS)) == set()


@pytest.mark.needs("postgres")
def test_token_hook_granted_to_the_auth_role_is_named(db: psycopg.Connection) -> None:
    db.execute(TRUSTING_TOKEN_HOOK.encode())
    [finding] = run_lints(db, rules=RULE)
    assert finding.object == "public.custom_access_token_hook(event jsonb)"
    assert "granted to supabase_auth_admin" in finding.message


@pytest.mark.needs("postgres")
def test_hook_named_by_settings_is_followed_into_its_helper(db: psycopg.Connection) -> None:
    db.execute(TRUSTING_HOOK_HELPER.encode())
    assert _objects(db) == set(), "no grant and no setting: nothing calls it"
    [finding] = run_lints(db, rules=RULE, auth_hooks=hook_functions(HOOK_SETTINGS))
    assert finding.object == "private.metadata_role(claims jsonb)"
    assert "called by private.token_hook(event jsonb)" in finding.message
    assert "GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI" in finding.message


@pytest.mark.needs("postgres")
def test_a_hook_reading_app_metadata_is_not_named(db: psycopg.Connection) -> None:
    db.execute(TRUSTING_TOKEN_HOOK.replace("'user_metadata'", "'app_metadata'").encode())
    assert _objects(db) == set()
