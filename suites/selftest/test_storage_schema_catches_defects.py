"""The storage-schema checks can fail: each test plants, in a scratch database (or the session's
own cluster, restored afterwards), what a real Storage API deployment showed, and asserts the
check reports exactly that."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from soberharness.checker import matrix
from soberharness.clients import postgrest_sql
from soberharness.clients.postgrest_sql import RequestRunner
from soberharness.db import session as db_session
from soberharness.db.seed import remove_world, write_world
from soberharness.lints.storage_schema import (
    delete_path_findings,
    describe,
    grant_findings,
    role_grant_findings,
)
from soberharness.records.results import Op
from soberharness.runner import matrix as matrix_runner
from soberharness.targets.migrations import REPO, apply_down, apply_file, apply_up
from soberharness.world.matrix_world import build_matrix_world

NARROW = REPO / "stack" / "compose" / "db" / "narrow-storage-grants.sql"


@pytest.fixture
def conn(scratch_database: str) -> Iterator[psycopg.Connection]:
    with db_session.connect(scratch_database, autocommit=True) as c:
        yield c


def _grants(conn: psycopg.Connection) -> set[tuple[str, str, str]]:
    """(table, role, privilege) of each grant finding."""
    out = set()
    for f in grant_findings(conn):
        role, _, privilege = f.message.split(" ", 3)[:3]
        out.add((f.object, role, privilege))
    return out


@pytest.mark.needs("postgres")
def test_clean_schema_has_no_storage_findings(conn: psycopg.Connection) -> None:
    assert grant_findings(conn) == []
    assert delete_path_findings(conn) == []
    assert role_grant_findings(conn) == []
    seen = describe(conn)
    assert (seen.origin, seen.protects_deletes) == ("bootstrap", True)


@pytest.mark.needs("postgres")
def test_storage_api_grant_all_after_0005_is_reported_per_role_and_privilege(
    conn: psycopg.Connection,
) -> None:
    # What the Storage API's migration 0046 does when it runs after the stack's migrations.
    conn.execute("grant all on storage.buckets, storage.objects to anon, authenticated, "
                 "service_role")
    every = {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
    expected = (
        {("storage.buckets", "anon", p) for p in every}
        | {("storage.objects", "anon", p) for p in every}
        | {("storage.buckets", "authenticated", p) for p in every}
        # authenticated may insert/update/delete objects (policies exist for each)
        | {("storage.objects", "authenticated", p) for p in ("TRUNCATE", "REFERENCES", "TRIGGER")}
    )
    assert _grants(conn) == expected


@pytest.mark.needs("postgres")
def test_one_insert_grant_without_a_policy_is_one_finding(conn: psycopg.Connection) -> None:
    conn.execute("grant insert on storage.objects to anon")
    assert _grants(conn) == {("storage.objects", "anon", "INSERT")}


@pytest.mark.needs("postgres")
def test_missing_delete_protection_is_reported_for_that_table(conn: psycopg.Connection) -> None:
    conn.execute("drop trigger protect_objects_delete on storage.objects")
    findings = delete_path_findings(conn)
    assert [(f.object, "not refused" in f.message) for f in findings] == [
        ("storage.objects", True)
    ]


@pytest.mark.needs("postgres")
def test_schema_from_an_old_storage_api_needs_no_delete_protection(
    conn: psycopg.Connection,
) -> None:
    # A Storage API before v1.35 never ran 0055: its ledger lacks it, no trigger is expected.
    conn.execute("drop trigger protect_objects_delete on storage.objects")
    conn.execute("drop trigger protect_buckets_delete on storage.buckets")
    conn.execute("insert into storage.migrations (id, name, hash) values "
                 "(0, 'create-migrations-table', 'x'), (1, 'initialmigration', 'y')")
    assert describe(conn).origin == "storage-api"
    assert delete_path_findings(conn) == []
    conn.execute("insert into storage.migrations (id, name, hash) values "
                 "(55, 'prevent-direct-deletes', 'z')")
    assert {f.object for f in delete_path_findings(conn)} == {"storage.buckets", "storage.objects"}


@pytest.mark.needs("postgres")
def test_harness_delete_without_the_storage_setting_is_reported(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgrest_sql, "STORAGE_SETTINGS", [])
    findings = delete_path_findings(conn)
    assert len(findings) == 1
    assert "harness's storage delete request is refused: 42501" in findings[0].message


@pytest.mark.needs("postgres")
def test_matrix_storage_deletes_are_allowed_only_through_the_storage_api_path(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The matrix's storage delete cells the model allows succeed on the protected schema, and
    are refused (42501) once the request stops setting what the Storage API sets."""
    mw = build_matrix_world()
    write_world(conn, mw.world)

    def storage_deletes() -> list[tuple[bool, str]]:
        runner = RequestRunner(conn)
        out = []
        for p in matrix_runner.plan(mw):
            if p.cell.table.startswith("objects:") and p.op is Op.DELETE and p.expected:
                outcome = runner.execute(p.text, p.setup_statements)
                out.append((matrix.allowed(p.op, outcome), outcome.error or ""))
        return out

    real_path = storage_deletes()
    assert real_path and all(ok for ok, _ in real_path)
    monkeypatch.setattr(postgrest_sql, "STORAGE_SETTINGS", [])
    stripped = storage_deletes()
    assert len(stripped) == len(real_path)
    assert all(not ok and err.startswith("42501: Direct deletion") for ok, err in stripped)
    remove_world(conn, mw.world)
    assert conn.execute("select count(*) from storage.objects").fetchone() == (0,)


@pytest.mark.needs("postgres")
def test_missing_authenticator_grant_is_reported(conn: psycopg.Connection) -> None:
    # Roles are cluster-wide: the session's own cluster, restored at the end.
    conn.execute("revoke authenticator from supabase_storage_admin")
    try:
        findings = role_grant_findings(conn)
    finally:
        conn.execute("grant authenticator to supabase_storage_admin")
    assert [f.message.split(" (")[0].split(":")[0] for f in findings] == [
        "not a member of authenticator",
        "cannot SET ROLE anon",
        "cannot SET ROLE authenticated",
        "cannot SET ROLE service_role",
    ]
    assert role_grant_findings(conn) == []


@pytest.mark.needs("postgres")
def test_buckets_made_through_the_api_first_are_taken_over_by_0005(
    conn: psycopg.Connection, target  # type: ignore[no-untyped-def]
) -> None:
    """A deployment that created the buckets through the Storage API before the migrations ran:
    0005_storage applies and leaves the buckets as it defines them."""
    later = [m for m in target.migrations if m.name >= "0005"]
    apply_down(conn, later)
    assert conn.execute("select count(*) from storage.buckets").fetchone() == (0,)
    # What POST /bucket {"name": "avatars"} leaves behind (private by default).
    conn.execute("insert into storage.buckets (id, name, public) values "
                 "('avatars', 'avatars', false), ('videos', 'videos', false)")
    apply_up(conn, later)
    rows = conn.execute("select id, public from storage.buckets order by id").fetchall()
    assert rows == [("avatars", True), ("videos", False)]


@pytest.mark.needs("postgres")
def test_a_new_storage_table_with_default_privileges_is_reported(
    conn: psycopg.Connection,
) -> None:
    # What a Storage API upgrade does: a new table created by the storage admin gets all
    # privileges for the API roles through the default privileges (RLS on, no policy).
    conn.execute("set role supabase_storage_admin")
    conn.execute("create table storage.buckets_extra (id text primary key)")
    conn.execute("alter table storage.buckets_extra enable row level security")
    conn.execute("reset role")
    every = {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
    assert _grants(conn) == {("storage.buckets_extra", r, p)
                             for r in ("anon", "authenticated") for p in every}
    conn.execute("grant all on storage.buckets, storage.objects to anon, authenticated")
    apply_file(conn, NARROW)  # the operator's remedy after a Storage API upgrade
    assert _grants(conn) == set()
