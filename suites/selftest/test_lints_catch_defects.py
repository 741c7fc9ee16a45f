"""The schema lints: the clean stack has no error finding, and each deliberate defect applied on
top of it is reported, by rule and object, with nothing else new."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.lints.catalog import RULES, LintRule, LintScope, run_lints
from soberharness.records.results import LintFinding, Severity


@pytest.fixture
def db(scratch_database: str) -> Iterator[psycopg.Connection]:
    """A throwaway clone of the migrated stack (the plugin's `scratch_database`)."""
    with db_session.connect(scratch_database, autocommit=True) as conn:
        yield conn


Key = tuple[str, Severity, str]


def _keys(findings: list[LintFinding]) -> set[Key]:
    return {(f.rule, f.severity, f.object) for f in findings}


def _show(keys: set[Key]) -> str:
    return "; ".join(f"{rule} [{sev}] {obj}" for rule, sev, obj in sorted(keys)) or "none"


def test_clean_stack_has_no_error_findings(db: psycopg.Connection) -> None:
    findings = run_lints(db)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    assert errors == [], "clean stack has error findings:\n" + "\n".join(
        f"{f.rule} {f.object}: {f.message}" for f in errors
    )


def test_every_rule_runs_and_names_itself(db: psycopg.Connection) -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert {
        "rls_disabled_in_public",
        "rls_enabled_no_policy",
        "security_definer_view",
        "security_definer_function_executable",
        "function_search_path_mutable",
        "auth_users_exposed",
        "email_column_exposed",
        "anon_unexpected_grant",
        "materialized_view_in_api",
        "materialized_view_in_exposed_schema",
        "definer_behind_invoker",
        "realtime_delete_reveals",
        "policy_uses_user_metadata",
        # splinter's other classes (lints_splinter, lints_performance), pgrls's (lints_policies)
        "rls_policy_always_true",
        "public_bucket_allows_listing",
        "foreign_table_in_api",
        "extension_in_public",
        "extension_versions_outdated",
        "unsupported_reg_types",
        "fkey_to_auth_unique",
        "auth_rls_initplan",
        "multiple_permissive_policies",
        "unindexed_foreign_keys",
        "no_primary_key",
        "duplicate_index",
        "policy_to_public",
        "insert_policy_without_check",
        "policy_exists_rls_disabled",
        "policy_reads_only_session",
        "rls_not_forced",
        "policy_column_unindexed",
    } == set(names)
    db.execute(b"alter table public.posts disable row level security")
    for rule in RULES:
        findings = run_lints(db, rules=[rule])
        # a rule may also inform (below its severity) about what no exposed path reaches yet
        assert all(f.rule == rule.name and f.severity in (rule.severity, Severity.INFO)
                   for f in findings)


E, W = Severity.ERROR, Severity.WARN

# (test id, SQL run by the superuser on top of the clean stack, findings it must add - exactly)
DEFECTS: list[tuple[str, list[str], set[Key]]] = [
    (
        "rls disabled on posts",
        ["alter table public.posts disable row level security"],
        # anon keeps its SELECT on posts, now with no RLS behind it: both rules say so; and
        # the posts policies are dormant.
        {
            ("rls_disabled_in_public", E, "public.posts"),
            ("anon_unexpected_grant", E, "public.posts"),
            ("policy_exists_rls_disabled", W, "public.posts"),
        },
    ),
    (
        "table with RLS and no policy",
        [
            "create table public.notes (id bigint primary key, body text)",
            "alter table public.notes enable row level security",
            # the image's default privileges gave anon everything: take that away so that the
            # missing policy is the only defect
            "revoke all on public.notes from anon",
        ],
        {("rls_enabled_no_policy", E, "public.notes")},
    ),
    (
        "internal table with RLS, no policy and no API privileges (as the Storage API's own)",
        [
            "create table storage.s3_multipart_uploads_x (id text primary key)",
            "alter table storage.s3_multipart_uploads_x enable row level security",
            "revoke all on storage.s3_multipart_uploads_x from anon, authenticated, service_role",
        ],
        set(),
    ),
    (
        "definer view readable by anon",
        [
            "create view public.post_view as select id, author_id, body from public.posts",
            "revoke all on public.post_view from anon",
            "grant select on public.post_view to anon",
        ],
        {("security_definer_view", E, "public.post_view")},
    ),
    (
        "view with security_invoker turned off",
        [
            "create view public.post_bodies with (security_invoker = false, "
            "security_barrier = true) as select id, body from public.posts",
            "revoke all on public.post_bodies from anon",
        ],
        {("security_definer_view", E, "public.post_bodies")},
    ),
    (
        "security definer function for authenticated",
        [
            "create function public.leak() returns setof public.posts language sql stable "
            "security definer set search_path = '' as $$ select * from public.posts $$",
            "revoke all on function public.leak() from public, anon, authenticated",
            "grant execute on function public.leak() to authenticated",
        ],
        {("security_definer_function_executable", E, "public.leak()")},
    ),
    (
        "security definer function via PUBLIC",
        [
            "create function public.leak_all() returns bigint language sql stable "
            "security definer set search_path = '' as $$ select count(*) from public.posts $$",
            "revoke all on function public.leak_all() from anon, authenticated",
            "grant execute on function public.leak_all() to public",
        ],
        {("security_definer_function_executable", E, "public.leak_all()")},
    ),
    (
        "function without search_path",
        [
            "create function public.add_one(i integer) returns integer language sql immutable "
            "as $$ select i + 1 $$"
        ],
        {("function_search_path_mutable", W, "public.add_one(i integer)")},
    ),
    (
        "view of auth.users for authenticated",
        [
            "create view public.user_emails as select id, email from auth.users",
            "revoke all on public.user_emails from anon, authenticated",
            "grant select on public.user_emails to authenticated",
        ],
        # The view reads auth.users, shows e-mails and runs as its owner: three true findings.
        {
            ("auth_users_exposed", E, "public.user_emails"),
            ("email_column_exposed", E, "public.user_emails"),
            ("security_definer_view", E, "public.user_emails"),
        },
    ),
    (
        "auth.users through an unexposed view",
        [
            "create view private.user_rows as select id, created_at from auth.users",
            "create view public.member_since with (security_invoker = true) "
            "as select id, created_at from private.user_rows",
            "revoke all on public.member_since from anon",
            # readable all the way down (auth_users_exposed tries the read as the role)
            "grant usage on schema private to authenticated",
            "grant select on private.user_rows to authenticated",
        ],
        {("auth_users_exposed", E, "public.member_since"),
         ("definer_behind_invoker", W, "public.member_since")},
    ),
    (
        "e-mail column in a guarded table",
        [
            "create table public.contacts (id uuid primary key, contact_email text)",
            "alter table public.contacts enable row level security",
            "create policy contacts_own on public.contacts for select to authenticated "
            "using (id = (select auth.uid()))",
            "revoke all on public.contacts from anon",
        ],
        {("email_column_exposed", E, "public.contacts")},
    ),
    (
        "insert on posts granted to anon",
        ["grant insert on public.posts to anon"],
        {("anon_unexpected_grant", E, "public.posts")},
    ),
    (
        "column-level update granted to anon",
        ["grant update (body) on public.posts to anon"],
        {("anon_unexpected_grant", E, "public.posts")},
    ),
    (
        "materialized view readable by anon",
        [
            "create materialized view public.post_counts as "
            "select author_id, count(*) as posts from public.posts group by author_id",
            "revoke all on public.post_counts from anon",
            "grant select on public.post_counts to anon",
        ],
        {("materialized_view_in_api", W, "public.post_counts")},
    ),
    (
        "materialized view in an exposed schema, not granted yet",
        [
            "create materialized view public.like_counts as "
            "select post_id, count(*) as likes from public.likes group by post_id",
            "revoke all on public.like_counts from public, anon, authenticated",
        ],
        {("materialized_view_in_exposed_schema", W, "public.like_counts")},
    ),
    (
        "invoker function calling a private definer function",
        [
            "create function private.all_post_ids() returns setof uuid language sql stable "
            "security definer set search_path = '' as $$ select id from public.posts $$",
            "grant execute on function private.all_post_ids() to authenticated",
            "create function public.feed() returns setof public.posts language sql stable "
            "set search_path = '' as $$ select p.* from public.posts p "
            "where p.id in (select private.all_post_ids()) $$",
            "revoke all on function public.feed() from public, anon",
        ],
        {("definer_behind_invoker", W, "public.feed()")},
    ),
    (
        "invoker view over a private definer view, through an invoker helper",
        [
            "create view private.raw_blocks as select blocker_id, blocked_id from public.blocks",
            "grant select on private.raw_blocks to authenticated",
            "create function private.block_rows() returns setof private.raw_blocks "
            "language sql stable set search_path = '' as $$ select * from private.raw_blocks $$",
            "grant execute on function private.block_rows() to authenticated",
            "create view public.my_blocks with (security_invoker = true) as "
            "select * from private.block_rows()",
            "revoke all on public.my_blocks from anon",
        ],
        {("definer_behind_invoker", W, "public.my_blocks")},
    ),
    (
        "follows published to Realtime again (migration 0010 undone)",
        ["alter publication supabase_realtime add table public.follows"],
        {("realtime_delete_reveals", E, "public.follows")},
    ),
    (
        "blocks published to Realtime",
        ["alter publication supabase_realtime add table public.blocks"],
        {("realtime_delete_reveals", E, "public.blocks")},
    ),
    (
        "likes keyed by user and post, published",
        [
            "alter table public.likes drop constraint likes_pkey",
            "alter table public.likes add primary key (user_id, id)",
        ],
        {("realtime_delete_reveals", E, "public.likes")},
    ),
    # Things that look alike but are fine: the rules must stay quiet.
    (
        "replica identity full on an RLS table sends only the key",
        ["alter table public.likes replica identity full"],
        set(),
    ),
    (
        "a private definer helper the exposed function cannot reach is fine",
        [
            "create function private.post_total() returns bigint language sql stable "
            "security definer set search_path = '' as $$ select count(*) from public.posts $$",
            "revoke all on function private.post_total() from public, anon, authenticated",
            "create function public.total() returns bigint language sql stable "
            "set search_path = '' as $$ select private.post_total() $$",
        ],
        set(),
    ),
    (
        "invoker view readable by anon is fine",
        [
            "create view public.visible_posts with (security_invoker = on) "
            "as select id, body from public.posts",
            "revoke all on public.visible_posts from anon",
            "grant select on public.visible_posts to anon",
        ],
        set(),
    ),
    (
        "foreign key to auth.users is fine",
        [
            "create table public.settings (user_id uuid primary key references auth.users(id) "
            "on delete cascade, theme text)",
            "alter table public.settings enable row level security",
            "create policy settings_own on public.settings for all to authenticated "
            "using (user_id = (select auth.uid()))",
            "revoke all on public.settings from anon",
        ],
        set(),
    ),
    (
        "security definer trigger function is fine",
        [
            "create function public.touch() returns trigger language plpgsql security definer "
            "set search_path = '' as $$ begin return new; end $$",
        ],
        set(),
    ),
    (
        "table no API role can touch needs no RLS",
        [
            "create table public.ledger (id bigint primary key)",
            "revoke all on public.ledger from anon, authenticated, public",
        ],
        set(),
    ),
]


@pytest.mark.parametrize(
    ("statements", "expected"),
    [pytest.param(sql, expected, id=name) for name, sql, expected in DEFECTS],
)
def test_defect_is_reported_exactly(
    db: psycopg.Connection, statements: list[str], expected: set[Key]
) -> None:
    before = _keys(run_lints(db))
    for statement in statements:
        db.execute(statement.encode())
    after = _keys(run_lints(db))
    added, removed = after - before, before - after
    assert added == expected, f"new findings: {_show(added)}; expected: {_show(expected)}"
    assert removed == set(), f"findings that vanished: {_show(removed)}"


def test_findings_name_the_object_in_one_line(db: psycopg.Connection) -> None:
    db.execute(b"alter table public.posts disable row level security")
    findings = [f for f in run_lints(db) if f.object == "public.posts"]
    assert findings
    for finding in findings:
        assert "public.posts" in finding.message
        assert "\n" not in finding.message


def _broken_check(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    conn.execute(b"select * from no_such_catalog_table")
    return []


def test_failing_rule_is_one_clear_error_and_leaves_the_connection_usable(
    db: psycopg.Connection,
) -> None:
    broken = LintRule("broken", Severity.ERROR, "a rule whose query fails", _broken_check)
    with pytest.raises(HarnessError, match="no_such_catalog_table"):
        run_lints(db, rules=[broken])
    assert db.execute(b"select 1").fetchone() == (1,)
