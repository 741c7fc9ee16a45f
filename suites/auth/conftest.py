"""Fixtures of the auth suite: clients for the target's GoTrue and Mailpit, its database, and
users that are removed again after each test.

The suite is target-agnostic: tests marked needs("auth"[, "mail"]) run where the target
offers those services (containers, remote) and are skipped elsewhere with the missing
service named (the local target has no GoTrue: its module cannot be fetched here).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from soberharness.clients.gotrue import GoTrueClient
from soberharness.clients.mailpit_api import MailpitClient
from soberharness.db import session as db_session
from soberharness.targets.base import Target
from soberharness.workload.auth_target import TestUsers, gotrue, mailpit


@pytest.fixture(scope="session")
def auth_client(target: Target) -> Iterator[GoTrueClient]:
    """GoTrue with the anon key: what the app uses."""
    with gotrue(target) as client:
        yield client


@pytest.fixture(scope="session")
def admin_client(target: Target) -> Iterator[GoTrueClient]:
    """GoTrue with the service key: the admin API."""
    with gotrue(target, admin=True) as client:
        yield client


@pytest.fixture(scope="session")
def mail(target: Target) -> Iterator[MailpitClient]:
    client = mailpit(target)
    yield client
    client.close()


@pytest.fixture
def auth_db(target: Target) -> Iterator[psycopg.Connection]:
    """The database GoTrue serves, as an admin (autocommit): where flows leave their state."""
    with db_session.connect(target.admin_dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def users(admin_client: GoTrueClient, target: Target, run_id: str) -> Iterator[TestUsers]:
    """E-mails and subjects for the test, marked with the run id; their users removed after."""
    made = TestUsers(admin_client, target.admin_dsn(), run_id)
    yield made
    made.remove_all()


@pytest.fixture
def gotrue_tx(target: Target) -> Iterator[psycopg.Connection]:
    """The database GoTrue serves, inside a transaction that is always rolled back."""
    with db_session.connect(target.admin_dsn()) as conn:
        yield conn
        conn.rollback()
