"""Checks of the storage schema as it is on a target, whoever created it (the bootstrap copy or a
Storage API's own migrations), for what a real Storage API showed:

- `grants`: the Storage API's migration 0046 grants `all` on storage.buckets and storage.objects
  to anon, authenticated and service_role, and the default privileges grant all on every table
  it creates; run before SoberTube's 0005 narrows them, or after an upgrade, the API roles hold
  privileges no policy needs. Checked on every table of the storage schema.
- `delete_path`: since its migration 0055 the schema refuses a DELETE on those tables unless the
  transaction sets `storage.allow_delete_query`; the harness's storage requests must set it (as
  the API does) and, where the schema has that migration, a direct delete must be refused.
- `role_grant`: the Storage API connects as supabase_storage_admin and switches to the request's
  role, which needs membership in authenticator.

Each returns findings (empty when the schema is right) naming the role, table and privilege, so a
planted defect shows as exactly its finding.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
from psycopg import sql

from soberharness.clients.postgrest_sql import STORAGE_PATH, Request, RequestRunner
from soberharness.records.results import LintFinding, Severity
from soberharness.world.entities import Role, Viewer

TABLES = ("storage.buckets", "storage.objects")
API_ROLES = ("anon", "authenticated")
SWITCHED_TO = ("anon", "authenticated", "service_role")
STORAGE_ADMIN = "supabase_storage_admin"
# Privileges RLS does not govern: no API role needs them on storage tables.
NEVER_NEEDED = ("TRUNCATE", "REFERENCES", "TRIGGER")
# Privileges a role needs only when a permissive policy for that command applies to it.
POLICY_GOVERNED = ("INSERT", "UPDATE", "DELETE")
BOOTSTRAP_COMMENT = "soberharness bootstrap subset"
DELETE_MIGRATION = "prevent-direct-deletes"  # tenant migration 0055's name in storage.migrations
REFUSED = "42501"


def _finding(rule: str, obj: str, message: str) -> LintFinding:
    return LintFinding(rule, Severity.ERROR, obj, message)


def _policy_commands(conn: psycopg.Connection, table: str, role: str) -> set[str]:
    """Commands some permissive policy on `table` lets `role` run (ALL counts for every one)."""
    schema, name = table.split(".")
    rows = conn.execute(
        "SELECT cmd FROM pg_policies WHERE schemaname = %s AND tablename = %s "
        "AND permissive = 'PERMISSIVE' AND (%s = ANY(roles) OR 'public' = ANY(roles))",
        (schema, name, role),
    ).fetchall()
    commands = {str(r[0]) for r in rows}
    return set(POLICY_GOVERNED) if "ALL" in commands else commands


def storage_tables(conn: psycopg.Connection) -> list[str]:
    """Every table of the storage schema (a real Storage API has many more than the bootstrap:
    buckets_analytics, buckets_vectors, vector_indexes, s3_multipart_uploads, ...)."""
    rows = conn.execute(
        "SELECT 'storage.' || quote_ident(relname) FROM pg_class "
        "WHERE relnamespace = 'storage'::regnamespace AND relkind IN ('r', 'p') ORDER BY relname"
    ).fetchall()
    return [str(r[0]) for r in rows]


def grant_findings(conn: psycopg.Connection) -> list[LintFinding]:
    """API-role privileges on the storage tables beyond what the policies need."""
    out: list[LintFinding] = []
    for table in storage_tables(conn):
        for role in API_ROLES:
            needed = _policy_commands(conn, table, role)
            for privilege in POLICY_GOVERNED + NEVER_NEEDED:
                row = conn.execute(
                    "SELECT has_table_privilege(%s, %s, %s)", (role, table, privilege)
                ).fetchone()
                if not (row and row[0]):
                    continue
                if privilege in NEVER_NEEDED:
                    why = "not subject to RLS, never needed by an API role"
                elif privilege not in needed:
                    why = f"no policy lets {role} {privilege.lower()} here"
                else:
                    continue
                out.append(_finding(
                    "storage_grants", table,
                    f"{role} holds {privilege} ({why}; the Storage API grants all: run "
                    "stack/compose/db/narrow-storage-grants.sql after its migrations)",
                ))
    return out


@dataclasses.dataclass(frozen=True)
class StorageSchema:
    """Which storage schema a run saw."""

    origin: str  # "bootstrap" (this project's copy) or "storage-api" (its own migrations)
    comment: str | None
    migrations: int
    last_migration: str | None
    protects_deletes: bool  # the protect_delete triggers exist on both tables

    def as_note(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def describe(conn: psycopg.Connection) -> StorageSchema:
    comment_row = conn.execute("SELECT obj_description('storage'::regnamespace)").fetchone()
    comment = comment_row[0] if comment_row else None
    ledger = conn.execute(
        "SELECT count(*), (SELECT name FROM storage.migrations ORDER BY id DESC LIMIT 1) "
        "FROM storage.migrations"
    ).fetchone()
    count, last = (int(ledger[0]), ledger[1]) if ledger else (0, None)
    triggers = conn.execute(
        "SELECT count(DISTINCT tgrelid) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE p.proname = 'protect_delete' AND p.pronamespace = 'storage'::regnamespace "
        "AND t.tgrelid IN ('storage.buckets'::regclass, 'storage.objects'::regclass) "
        "AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
    ).fetchone()
    origin = "storage-api" if count else "bootstrap"
    return StorageSchema(origin, comment, count, last, bool(triggers and triggers[0] == 2))


def _applies_delete_protection(conn: psycopg.Connection, schema: StorageSchema) -> bool:
    """The schema should refuse direct deletes: it is this project's copy of v1.70.6, or the
    Storage API's ledger lists migration 0055."""
    if schema.origin == "bootstrap":
        return True
    row = conn.execute(
        "SELECT 1 FROM storage.migrations WHERE name = %s", (DELETE_MIGRATION,)
    ).fetchone()
    return row is not None


def _attempt(conn: psycopg.Connection, table: str, allow: bool) -> str | None:
    """A DELETE that matches no row (statement triggers still fire), rolled back; the SQLSTATE
    it failed with, or None."""
    try:
        with conn.transaction(force_rollback=True):
            if allow:
                conn.execute("SELECT set_config('storage.allow_delete_query', 'true', true)")
            conn.execute(f"DELETE FROM {table} WHERE false")
    except psycopg.Error as exc:
        return exc.sqlstate or "?"
    return None


def delete_path_findings(conn: psycopg.Connection) -> list[LintFinding]:
    """The harness deletes storage rows the way the Storage API does; where the schema has the
    Storage API's delete protection, a direct delete is refused."""
    out: list[LintFinding] = []
    schema = describe(conn)
    if _applies_delete_protection(conn, schema):
        for table in TABLES:
            state = _attempt(conn, table, allow=False)
            if state != REFUSED:
                out.append(_finding(
                    "storage_delete_path", table,
                    "a direct DELETE is not refused (expected 42501 from the protect_delete "
                    f"trigger of Storage API migration 0055, got {state or 'success'})",
                ))
    for table in TABLES:
        state = _attempt(conn, table, allow=True)
        if state is not None:
            out.append(_finding(
                "storage_delete_path", table,
                f"a DELETE with storage.allow_delete_query set fails ({state})",
            ))
    out += _harness_request_findings(conn)
    return out


def _harness_request_findings(conn: psycopg.Connection) -> list[LintFinding]:
    """A storage delete rendered as the matrix renders one (service_role, storage path) is not
    refused by the delete protection."""
    if not conn.autocommit:
        raise ValueError("delete_path_findings needs an autocommit connection")
    runner = RequestRunner(conn)
    request = Request(
        sql.SQL("DELETE FROM storage.objects WHERE false"),
        "DELETE",
        f"{STORAGE_PATH}object/avatars/none",
    )
    outcome = runner.run(Viewer(Role.SERVICE), request)
    if outcome.ok:
        return []
    return [_finding(
        "storage_delete_path", "storage.objects",
        f"the harness's storage delete request is refused: {outcome.error}",
    )]


def _member_privilege(conn: psycopg.Connection) -> str:
    row = conn.execute("SHOW server_version_num").fetchone()
    return "SET" if row and int(row[0]) >= 160000 else "MEMBER"


def role_grant_findings(conn: psycopg.Connection) -> list[LintFinding]:
    """supabase_storage_admin can switch to the roles the Storage API switches to."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (STORAGE_ADMIN,)).fetchone()
    if exists is None:
        return [_finding("storage_role_grant", STORAGE_ADMIN, "role does not exist")]
    privilege = _member_privilege(conn)
    out: list[LintFinding] = []
    direct = conn.execute(
        "SELECT pg_has_role(%s, 'authenticator', %s)", (STORAGE_ADMIN, privilege)
    ).fetchone()
    if not (direct and direct[0]):
        out.append(_finding(
            "storage_role_grant", STORAGE_ADMIN,
            "not a member of authenticator (grant authenticator to supabase_storage_admin)",
        ))
    for role in SWITCHED_TO:
        row = conn.execute("SELECT pg_has_role(%s, %s, %s)", (STORAGE_ADMIN, role, privilege)
                           ).fetchone()
        if not (row and row[0]):
            out.append(_finding(
                "storage_role_grant", STORAGE_ADMIN,
                f"cannot SET ROLE {role}: every Storage API request as {role} would fail "
                "with 'permission denied to set role'",
            ))
    return out


def all_findings(conn: psycopg.Connection) -> list[LintFinding]:
    return grant_findings(conn) + delete_path_findings(conn) + role_grant_findings(conn)
