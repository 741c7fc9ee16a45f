"""The auth suite's test users are removed by id, so a soft-deleted one does not stay behind.

GoTrue's soft delete (DELETE /admin/users/{id} with should_soft_delete) obfuscates the
e-mail; a clean-up by e-mail then misses the row. Real PostgreSQL, the bootstrap's
auth.users; no GoTrue needed (users are inserted as GoTrue would leave them).
"""

from __future__ import annotations

import uuid

import psycopg

from soberharness.clients.gotrue import AuthUser
from soberharness.db import session as db_session
from soberharness.workload.auth_target import TestUsers


def _insert(conn: psycopg.Connection, email: str) -> AuthUser:
    user_id = str(uuid.uuid4())
    conn.execute("INSERT INTO auth.users (id, aud, role, email) "
                 "VALUES (%s, 'authenticated', 'authenticated', %s)", (user_id, email))
    return AuthUser.from_json({"id": user_id, "email": email})


def test_soft_deleted_and_signed_up_users_are_removed(scratch_database: str) -> None:
    made = TestUsers(admin=None, dsn=scratch_database)  # type: ignore[arg-type]
    with db_session.connect(scratch_database, autocommit=True) as conn:
        bystander = _insert(conn, "someone-else@example.test")
        soft = made.track(_insert(conn, made.email("soft")))
        signed_up = _insert(conn, made.email("signup"))  # only its e-mail is known
        # GoTrue's soft delete: the e-mail (and phone) obfuscated, deleted_at set.
        conn.execute("UPDATE auth.users SET email = md5(email) WHERE id = %s", (soft.id,))
        made.remove_all()
        left = {row[0] for row in conn.execute("SELECT id::text FROM auth.users")}
    assert soft.id not in left, "the soft-deleted test user stayed behind"
    assert signed_up.id not in left, "the signed-up test user stayed behind"
    assert bystander.id in left, "a user the test did not make was removed"
