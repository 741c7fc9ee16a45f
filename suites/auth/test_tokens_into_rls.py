"""Tokens into RLS: a token, verified and applied the way PostgREST applies it, reads exactly
the rows the access model allows its user; the aal2 rule of account deletion holds.

With GoTrue (needs auth): the tokens are the ones GoTrue issues. Everywhere else the same path
runs with tokens the harness signs with the target's secret, which proves the plumbing (verify,
claims, role switch) on the real database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pyotp
import pytest
from psycopg import sql

from soberharness.clients.gotrue import GoTrueClient
from soberharness.db import session as db_session
from soberharness.db.claims import token_for
from soberharness.db.seed import world_statements
from soberharness.db.sql import insert, row_of, rows_below_auth
from soberharness.runner.tokens_into_rls import compare_with_tokens, run_with_token
from soberharness.targets.base import Target
from soberharness.workload.auth_target import PASSWORD, TestUsers
from soberharness.workload.flow import Flow
from soberharness.world.entities import User, Viewer, World, new_id
from soberharness.world.token_world import small_world


@pytest.fixture
def tx(module_database: str) -> Iterator[psycopg.Connection]:
    """A connection inside a transaction that is always rolled back."""
    with db_session.connect(module_database) as conn:
        yield conn
        conn.rollback()


@pytest.mark.needs("postgres")
def test_signed_tokens_through_the_token_path_read_what_the_model_allows(
    target: Target, tx: psycopg.Connection
) -> None:
    secret = target.keys.jwt_secret
    assert secret
    world = small_world([new_id() for _ in range(4)])
    tx.execute(sql.SQL(";\n").join(world_statements(world)).as_bytes(tx))
    tokens = {u.id: token_for(Viewer.of(u), secret, u.email) for u in world.users.values()}
    diffs = compare_with_tokens(tx, world, tokens, secret)
    assert not diffs, "\n".join(d.describe() for d in diffs)


@pytest.mark.needs("postgres")
def test_the_token_path_catches_a_leak(target: Target, tx: psycopg.Connection) -> None:
    """The comparison can fail: a policy opened to everyone shows up as extra rows."""
    secret = target.keys.jwt_secret
    assert secret
    world = small_world([new_id() for _ in range(4)])
    tx.execute(sql.SQL(";\n").join(world_statements(world)).as_bytes(tx))
    tx.execute("CREATE POLICY leak_for_test ON public.posts FOR SELECT TO authenticated "
               "USING (true)")
    tokens = {u.id: token_for(Viewer.of(u), secret, u.email) for u in world.users.values()}
    diffs = compare_with_tokens(tx, world, tokens, secret)
    assert any(d.table == "posts" and d.extra for d in diffs), "the leak went unnoticed"


@pytest.mark.needs("postgres")
def test_account_deletion_needs_aal2_in_the_token(target: Target, tx: psycopg.Connection) -> None:
    """Migration 0007: INSERT into account_deletion_requests only from an aal2 session."""
    secret = target.keys.jwt_secret
    assert secret
    user = User(new_id(), f"aal_{uuid.uuid4().hex[:8]}")
    tx.execute(sql.SQL(";\n").join(world_statements(World(users={user.id: user}))).as_bytes(tx))
    request = sql.SQL("INSERT INTO public.account_deletion_requests (user_id) VALUES ({})").format(
        sql.Literal(user.id))
    aal1 = token_for(Viewer.of(user), secret, user.email)
    aal2 = token_for(Viewer(Viewer.of(user).role, user.id, aal="aal2"), secret, user.email)
    refused = run_with_token(tx, aal1, secret, request)
    assert refused.error and refused.error.startswith("42501"), refused
    accepted = run_with_token(tx, aal2, secret, request)
    assert accepted.ok and accepted.rowcount == 1, accepted


@pytest.mark.needs("auth", "postgres")
def test_gotrue_tokens_read_what_the_model_allows(
    target: Target, auth_client: GoTrueClient, users: TestUsers, gotrue_tx: psycopg.Connection
) -> None:
    flow = Flow("GoTrue tokens into RLS")
    secret = target.keys.jwt_secret
    assert secret
    with flow.step("four users from GoTrue (one moderator)"):
        made = [users.confirmed("rls") for _ in range(3)]
        made.append(users.confirmed("rls-mod", app_metadata={"role": "moderator"}))
        world = small_world([uuid.UUID(u.id) for u in made])
    with flow.step("each signs in"):
        tokens = {uuid.UUID(u.id): auth_client.sign_in_password(u.email, PASSWORD).access_token
                  for u in made}
    with flow.step("rows read with each token match the model"):
        gotrue_tx.execute(sql.SQL(";\n").join(rows_below_auth(world)).as_bytes(gotrue_tx))
        diffs = compare_with_tokens(gotrue_tx, world, tokens, secret)
        assert not diffs, "\n".join(d.describe() for d in diffs)


@pytest.mark.needs("auth", "postgres")
def test_gotrue_aal2_token_may_request_account_deletion_and_aal1_may_not(
    target: Target, auth_client: GoTrueClient, users: TestUsers, gotrue_tx: psycopg.Connection
) -> None:
    flow = Flow("aal2 rule with GoTrue tokens")
    secret = target.keys.jwt_secret
    assert secret
    made = users.confirmed("aal")
    user = User(uuid.UUID(made.id), f"aal_{uuid.uuid4().hex[:8]}")
    request = sql.SQL("INSERT INTO public.account_deletion_requests (user_id) VALUES ({})").format(
        sql.Literal(user.id))
    with flow.step("aal1 session"):
        session = auth_client.sign_in_password(made.email, PASSWORD)
    with flow.step("aal2 session through TOTP"):
        factor = auth_client.enroll_totp(session.access_token)
        challenge = auth_client.challenge(session.access_token, factor.id)
        upgraded = auth_client.verify_factor(session.access_token, factor.id, challenge.id,
                                             pyotp.TOTP(factor.secret).now())
    with flow.step("a profile to delete"):
        gotrue_tx.execute(insert(row_of(user)).as_bytes(gotrue_tx))
    with flow.step("aal1 refused"):
        outcome = run_with_token(gotrue_tx, session.access_token, secret, request)
        assert outcome.error and outcome.error.startswith("42501"), outcome
    with flow.step("aal2 accepted"):
        outcome = run_with_token(gotrue_tx, upgraded.access_token, secret, request)
        assert outcome.ok and outcome.rowcount == 1, outcome
