"""Issue 21's scoping and the pgrls classes judged by reach: each planted defect, applied on top
of the clean stack, is reported as exactly its rule, severity and object, and each near-miss
beside it adds nothing. Roles a case creates are cluster-wide: named per test, dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.lints.catalog import run_lints
from soberharness.lints.policies import compared_for_equality
from soberharness.records.results import LintFinding, Severity

Key = tuple[str, Severity, str]
E, W, INFO = Severity.ERROR, Severity.WARN, Severity.INFO

pytestmark = pytest.mark.needs("postgres")


@pytest.fixture
def db(scratch_database: str) -> Iterator[tuple[psycopg.Connection, str]]:
    owner = f"sh_owner_{uuid.uuid4().hex[:10]}"
    with db_session.connect(scratch_database, autocommit=True) as conn:
        try:
            yield conn, owner
        finally:
            if conn.execute(b"select 1 from pg_roles where rolname = %s",
                            (owner,)).fetchone():
                conn.execute(f'drop owned by "{owner}" cascade'.encode())
                conn.execute(f'drop role "{owner}"'.encode())


def _keys(findings: list[LintFinding]) -> set[Key]:
    return {(f.rule, f.severity, f.object) for f in findings}


def _show(keys: set[Key]) -> str:
    return "; ".join(f"{rule} [{sev}] {obj}" for rule, sev, obj in sorted(keys)) or "none"


_SECRETS = [
    "create table private.secrets (id bigint primary key, note text)",
    "grant usage on schema private to authenticated",
    "grant select on private.secrets to authenticated",
]
_SECRETS_VIEW = [
    "create view public.secret_notes with (security_invoker = true) as "
    "select id, note from private.secrets",
    "revoke all on public.secret_notes from anon",
]
_LEDGER = [
    "create role {owner} nologin",
    "grant usage on schema private to {owner}",
    "create table private.ledger (id bigint primary key, amount integer)",
    "alter table private.ledger owner to {owner}",
    "alter table private.ledger enable row level security",
    "create policy ledger_own on private.ledger for select to authenticated using (id = 0)",
]
_LEDGER_FUNCTION = [
    "create function public.ledger_total() returns bigint language sql security definer "
    "set search_path = '' as $$ select count(*) from private.ledger $$",
    "alter function public.ledger_total() owner to {owner}",
    "revoke execute on function public.ledger_total() from public, anon",
    "grant execute on function public.ledger_total() to authenticated",
]
_NOTES = [
    "create table public.notes_x (id bigint primary key, owner_id uuid, body text)",
    "alter table public.notes_x enable row level security",
    "revoke all on public.notes_x from anon",
]

CASES: list[tuple[str, list[str], set[Key]]] = [
    # -- scoping (a): a private table an exposed invoker view reads ---------------------------
    (
        "private table without RLS read through an exposed invoker view",
        [*_SECRETS, *_SECRETS_VIEW],
        {("rls_disabled_in_public", E, "private.secrets")},
    ),
    (
        "private foreign table read through an exposed invoker view",
        ["create foreign data wrapper soberharness_fdw",
         "create server soberharness_remote foreign data wrapper soberharness_fdw",
         "create foreign table private.remote_notes (id bigint, body text) "
         "server soberharness_remote",
         "grant usage on schema private to authenticated",
         "grant select on private.remote_notes to authenticated",
         "create view public.remote_bodies with (security_invoker = true) as "
         "select id, body from private.remote_notes",
         "revoke all on public.remote_bodies from anon"],
        {("foreign_table_in_api", E, "private.remote_notes")},
    ),
    (
        "near-miss: the same table and grants, no exposed path to it",
        list(_SECRETS),
        set(),
    ),
    (
        "dormant policy on a private table an exposed view reaches: a warning",
        [*_SECRETS, *_SECRETS_VIEW,
         "create policy secrets_none on private.secrets for select to authenticated "
         "using (id = 0)"],
        {("rls_disabled_in_public", E, "private.secrets"),
         ("policy_exists_rls_disabled", W, "private.secrets")},
    ),
    (
        "dormant policy on a private table nothing exposed reaches: an info",
        ["create table private.drafts (id bigint primary key, owner_id uuid)",
         "create policy drafts_own on private.drafts for select to authenticated "
         "using (owner_id = (select auth.uid()))"],
        {("policy_exists_rls_disabled", INFO, "private.drafts")},
    ),
    (
        "RLS without a policy on a private table an exposed view reads: an error",
        [*_SECRETS, "alter table private.secrets enable row level security", *_SECRETS_VIEW],
        {("rls_enabled_no_policy", E, "private.secrets")},
    ),
    (
        "e-mail column of a private table an exposed view reads (the view's own too)",
        ["create table private.contacts (id bigint primary key, contact_email text)",
         "alter table private.contacts enable row level security",
         "create policy contacts_none on private.contacts for select to authenticated "
         "using (id = 0)",
         "grant usage on schema private to authenticated",
         "grant select on private.contacts to authenticated",
         "create view public.contact_list with (security_invoker = true) as "
         "select id, contact_email from private.contacts",
         "revoke all on public.contact_list from anon"],
        {("email_column_exposed", E, "private.contacts"),
         ("email_column_exposed", E, "public.contact_list")},
    ),
    # -- scoping (d): what is not exposed is an info ------------------------------------------
    (
        "RLS without a policy in a schema not exposed",
        ["create schema app_jobs",
         "create table app_jobs.queue (id bigint primary key, payload text)",
         "alter table app_jobs.queue enable row level security"],
        {("rls_enabled_no_policy", INFO, "app_jobs.queue")},
    ),
    (
        "near-miss: RLS without a policy in public, no API role holds a privilege",
        ["create table public.internal_x (id bigint primary key)",
         "alter table public.internal_x enable row level security",
         "revoke all on public.internal_x from anon, authenticated"],
        set(),
    ),
    (
        "mutable search_path in a schema not exposed",
        ["create schema app_jobs",
         "create function app_jobs.tick() returns integer language sql as $$ select 1 $$"],
        {("function_search_path_mutable", INFO, "app_jobs.tick()")},
    ),
    (
        "mutable search_path in a schema not exposed, called by an exposed function",
        ["create schema app_jobs",
         "create function app_jobs.tick() returns integer language sql as $$ select 1 $$",
         "grant usage on schema app_jobs to authenticated",
         "create function public.tick() returns integer language sql set search_path = '' "
         "as $$ select app_jobs.tick() $$"],
        {("function_search_path_mutable", W, "app_jobs.tick()")},
    ),
    (
        "a service's own function (GoTrue's schema) called by an exposed function: an info",
        ["create function auth.sober_tick() returns integer language sql as $$ select 1 $$",
         "create function public.tick() returns integer language sql set search_path = '' "
         "as $$ select auth.sober_tick() $$"],
        {("function_search_path_mutable", INFO, "auth.sober_tick()")},
    ),
    (
        "near-miss: the function in a schema not exposed pins its search_path",
        ["create schema app_jobs",
         "create function app_jobs.tick() returns integer language sql "
         "set search_path = '' as $$ select 1 $$"],
        set(),
    ),
    # -- scoping (b): auth_users_exposed judged by a read as the role -------------------------
    (
        "near-miss: security_invoker view over auth.users (the roles may not read auth.users)",
        ["create view public.user_dates with (security_invoker = true) as "
         "select id, created_at from auth.users",
         "revoke insert, update, delete, truncate, references, trigger on public.user_dates "
         "from anon"],
        set(),
    ),
    (
        "near-miss: invoker view over a private definer view the roles may not read",
        ["create view private.user_rows as select id, created_at from auth.users",
         "create view public.member_since with (security_invoker = true) "
         "as select id, created_at from private.user_rows",
         "revoke insert, update, delete, truncate, references, trigger "
         "on public.member_since from anon"],
        set(),
    ),
    # -- rls_not_forced -----------------------------------------------------------------------
    (
        "exposed definer function owned by the table's owner, RLS not forced",
        [*_LEDGER, *_LEDGER_FUNCTION],
        {("rls_not_forced", W, "private.ledger"),
         ("security_definer_function_executable", E, "public.ledger_total()")},
    ),
    (
        "near-miss: the same with FORCE ROW LEVEL SECURITY",
        [*_LEDGER, *_LEDGER_FUNCTION,
         "alter table private.ledger force row level security"],
        {("security_definer_function_executable", E, "public.ledger_total()")},
    ),
    (
        "authenticated is a member of the table's owner",
        [*_LEDGER, "grant {owner} to authenticated"],
        {("rls_not_forced", W, "private.ledger")},
    ),
    (
        "near-miss: the owner, not forced, but no API path acts as it",
        list(_LEDGER),
        set(),
    ),
    # -- policy_column_unindexed --------------------------------------------------------------
    (
        "select policy filtering on an unindexed owner column",
        [*_NOTES,
         "create policy notes_own on public.notes_x for select to authenticated "
         "using (owner_id = (select auth.uid()))"],
        {("policy_column_unindexed", W, "public.notes_x.owner_id")},
    ),
    (
        "near-miss: the same with an index leading with owner_id",
        [*_NOTES,
         "create index notes_x_owner_idx on public.notes_x (owner_id, id)",
         "create policy notes_own on public.notes_x for select to authenticated "
         "using (owner_id = (select auth.uid()))"],
        set(),
    ),
    (
        "near-miss: an equality only in a WITH CHECK (the new row, no scan)",
        [*_NOTES,
         "create policy notes_insert on public.notes_x for insert to authenticated "
         "with check (owner_id = (select auth.uid()))"],
        set(),
    ),
]


@pytest.mark.parametrize(
    ("statements", "expected"),
    [pytest.param(sql, expected, id=name) for name, sql, expected in CASES],
)
def test_case_adds_exactly_its_findings(
    db: tuple[psycopg.Connection, str], statements: list[str], expected: set[Key]
) -> None:
    conn, owner = db
    before = _keys(run_lints(conn))
    for statement in statements:
        conn.execute(statement.replace("{owner}", f'"{owner}"').encode())
    after = _keys(run_lints(conn))
    added, removed = after - before, before - after
    assert added == expected, f"new findings: {_show(added)}; expected: {_show(expected)}"
    assert removed == set(), f"findings that vanished: {_show(removed)}"


def test_equality_is_told_from_other_comparisons() -> None:
    assert compared_for_equality("(owner_id = ( SELECT auth.uid() AS uid))", "owner_id")
    assert compared_for_equality("(( SELECT auth.uid() AS uid) = owner_id)", "owner_id")
    assert compared_for_equality("(status IN ('a'::text, 'b'::text))", "status")
    assert not compared_for_equality("(follower_id <> followee_id)", "followee_id")
    assert not compared_for_equality("(private.object_owner(name) = x)", "name")
    assert not compared_for_equality("(owner_idx = 1)", "owner_id")
    assert not compared_for_equality("(note = 'owner_id = 1'::text)", "owner_id")
