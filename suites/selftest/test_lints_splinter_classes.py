"""The lints of splinter's remaining classes and of pgrls's policy-shape classes: each planted
defect, applied on top of the clean stack, is reported as exactly its rule and object, and each
near-miss beside it adds nothing (issue 21)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from soberharness.clients.postgrest_sql import request_settings
from soberharness.db import session as db_session
from soberharness.db.seed import world_statements
from soberharness.lints.catalog import run_lints
from soberharness.lints.performance import covers, row_independent_calls
from soberharness.lints.policies import reads_a_column
from soberharness.records.results import LintFinding, Severity
from soberharness.world.surface_world import build_surface_world

Key = tuple[str, Severity, str]
E, W = Severity.ERROR, Severity.WARN


@pytest.fixture
def db(scratch_database: str) -> Iterator[psycopg.Connection]:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        yield conn


def _keys(findings: list[LintFinding]) -> set[Key]:
    return {(f.rule, f.severity, f.object) for f in findings}


def _show(keys: set[Key]) -> str:
    return "; ".join(f"{rule} [{sev}] {obj}" for rule, sev, obj in sorted(keys)) or "none"


_FOREIGN_SERVER = [
    "create foreign data wrapper soberharness_fdw",
    "create server soberharness_remote foreign data wrapper soberharness_fdw",
]

# (test id, SQL run by the superuser on top of the clean stack, findings it must add - exactly)
CASES: list[tuple[str, list[str], set[Key]]] = [
    # -- rls_policy_always_true ---------------------------------------------------------------
    (
        "delete policy using (1 = 1)",
        ["create policy profiles_delete_any on public.profiles for delete to authenticated "
         "using (1 = 1)"],
        {("rls_policy_always_true", W, "public.profiles policy profiles_delete_any")},
    ),
    (
        "update policy with check (true) behind a real USING",
        ["create policy blocks_update_own on public.blocks for update to authenticated "
         "using (blocker_id = (select auth.uid())) with check (true)"],
        {("rls_policy_always_true", W, "public.blocks policy blocks_update_own")},
    ),
    (
        "near-miss: select using (true) for anon is a deliberate public read",
        ["create policy blocks_public on public.blocks for select to anon using (true)"],
        set(),
    ),
    (
        "near-miss: delete policy restricted to the owner",
        ["create policy profiles_delete_own on public.profiles for delete to authenticated "
         "using (id = (select auth.uid()))"],
        set(),
    ),
    # -- public_bucket_allows_listing ---------------------------------------------------------
    (
        "public bucket whose select policy reads only the bucket",
        [
            "insert into storage.buckets (id, name, public) values ('banners', 'banners', true)",
            "create policy banners_read on storage.objects for select to anon, authenticated "
            "using (bucket_id = 'banners')",
        ],
        {("public_bucket_allows_listing", W, "storage bucket banners")},
    ),
    (
        "near-miss: videos made public, its select policy asks who owns the object",
        ["update storage.buckets set public = true where id = 'videos'"],
        set(),
    ),
    # -- foreign_table_in_api -----------------------------------------------------------------
    (
        "foreign table in public readable by authenticated",
        [
            *_FOREIGN_SERVER,
            "create foreign table public.remote_notes (id bigint, body text) "
            "server soberharness_remote",
            "revoke all on public.remote_notes from anon, authenticated",
            "grant select on public.remote_notes to authenticated",
        ],
        {("foreign_table_in_api", E, "public.remote_notes")},
    ),
    (
        "near-miss: foreign table in the private schema",
        [
            *_FOREIGN_SERVER,
            "create foreign table private.remote_notes (id bigint, body text) "
            "server soberharness_remote",
            "grant select on private.remote_notes to authenticated",
        ],
        set(),
    ),
    # -- extension_in_public / extension_versions_outdated ------------------------------------
    (
        "extension installed into public",
        ["create extension pg_trgm schema public"],
        {("extension_in_public", W, "extension pg_trgm")},
    ),
    (
        "near-miss: extension in the extensions schema, at its default version",
        ["create extension pg_trgm schema extensions"],
        set(),
    ),
    (
        "extension at an older version",
        ["create extension pg_trgm schema extensions version '1.5'"],
        {("extension_versions_outdated", W, "extension pg_trgm")},
    ),
    # -- unsupported_reg_types ----------------------------------------------------------------
    (
        "regprocedure column",
        ["create table private.handlers (id bigint primary key, handler regprocedure)"],
        {("unsupported_reg_types", W, "private.handlers.handler")},
    ),
    (
        "array of a domain over regproc",
        [
            "create domain private.handler_name as regproc",
            "create table private.hooks (id bigint primary key, steps private.handler_name[])",
        ],
        {("unsupported_reg_types", W, "private.hooks.steps")},
    ),
    (
        "near-miss: regclass and regtype columns survive pg_upgrade",
        ["create table private.watched (id bigint primary key, rel regclass, typ regtype)"],
        set(),
    ),
    # -- fkey_to_auth_unique ------------------------------------------------------------------
    (
        "foreign key to auth.users(email)",
        ["create table private.mail_prefs (email varchar(255) primary key "
         "references auth.users (email), digest boolean)"],
        {("fkey_to_auth_unique", E, "private.mail_prefs constraint mail_prefs_email_fkey")},
    ),
    (
        "near-miss: foreign key to auth.users(id), its primary key (also a unique key there)",
        ["create table private.user_prefs (user_id uuid primary key "
         "references auth.users (id), digest boolean)"],
        set(),
    ),
    # -- auth_rls_initplan --------------------------------------------------------------------
    (
        "update policy calling auth.uid() per row",
        ["create policy blocks_update_own on public.blocks for update to authenticated "
         "using (blocker_id = auth.uid())"],
        {("auth_rls_initplan", W, "public.blocks policy blocks_update_own")},
    ),
    (
        "update policy reading current_setting per row",
        ["create policy blocks_update_own on public.blocks for update to authenticated "
         "using (blocker_id = (current_setting('request.jwt.claim.sub', true))::uuid)"],
        {("auth_rls_initplan", W, "public.blocks policy blocks_update_own")},
    ),
    (
        "insert policy calling a zero-argument helper per row",
        [
            "create function private.signed_in() returns boolean language sql stable "
            "set search_path = '' as $$ select auth.uid() is not null $$",
            "create table public.notes (id bigint primary key, body text)",
            "alter table public.notes enable row level security",
            "revoke all on public.notes from anon",
            "create policy notes_insert on public.notes for insert to authenticated "
            "with check (body <> '' and private.signed_in())",
        ],
        {("auth_rls_initplan", W, "public.notes policy notes_insert")},
    ),
    (
        "near-miss: (select auth.uid()) and a helper taking the row's columns",
        ["create policy blocks_update_own on public.blocks for update to authenticated "
         "using (blocker_id = (select auth.uid()) and not private.has_block(blocked_id, "
         "blocker_id))"],
        set(),
    ),
    # -- multiple_permissive_policies ---------------------------------------------------------
    (
        "second permissive select policy on posts for authenticated",
        ["create policy posts_select_own on public.posts for select to authenticated "
         "using (author_id = (select auth.uid()))"],
        {("multiple_permissive_policies", W, "public.posts")},
    ),
    (
        "near-miss: the same policy as restrictive",
        ["create policy posts_select_own on public.posts as restrictive for select "
         "to authenticated using (author_id = (select auth.uid()))"],
        set(),
    ),
    # -- unindexed_foreign_keys ---------------------------------------------------------------
    (
        "foreign key without an index",
        ["create table private.reports (id bigint primary key, "
         "post_id uuid references public.posts (id))"],
        {("unindexed_foreign_keys", W, "private.reports constraint reports_post_id_fkey")},
    ),
    (
        "foreign key whose only index has another predicate",
        [
            "create table private.reports (id bigint primary key, open boolean, "
            "post_id uuid references public.posts (id))",
            "create index reports_open_post_idx on private.reports (post_id) where open",
        ],
        {("unindexed_foreign_keys", W, "private.reports constraint reports_post_id_fkey")},
    ),
    (
        "near-miss: a partial index on the key's columns where they are not null",
        [
            "create table private.reports (id bigint primary key, "
            "post_id uuid references public.posts (id))",
            "create index reports_post_idx on private.reports (post_id) "
            "where post_id is not null",
        ],
        set(),
    ),
    # -- no_primary_key -----------------------------------------------------------------------
    (
        "table without a primary key",
        ["create table private.audit_trail (at timestamptz, what text)"],
        {("no_primary_key", W, "private.audit_trail")},
    ),
    (
        "near-miss: a table of a Supabase service's schema without one",
        ["create table auth.audit_trail_x (payload json)"],
        set(),
    ),
    # -- duplicate_index ----------------------------------------------------------------------
    (
        "second index identical to posts_author_created_idx",
        ["create index posts_author_created_again on public.posts (author_id, created_at desc)"],
        {("duplicate_index", W, "public.posts index posts_author_created_again")},
    ),
    (
        "unique index duplicating the primary key",
        ["create unique index likes_id_key on public.likes (id)"],
        {("duplicate_index", W, "public.likes index likes_id_key")},
    ),
    (
        "near-miss: same columns in another order of created_at",
        ["create index posts_author_created_asc on public.posts (author_id, created_at)"],
        set(),
    ),
    # -- policy_to_public ---------------------------------------------------------------------
    (
        "restrictive policy without TO",
        ["create policy follows_known_status on public.follows as restrictive for select "
         "using (status is not null)"],
        {("policy_to_public", W, "public.follows policy follows_known_status")},
    ),
    (
        "near-miss: the same policy naming its roles",
        ["create policy follows_known_status on public.follows as restrictive for select "
         "to anon, authenticated using (status is not null)"],
        set(),
    ),
    # -- insert_policy_without_check ----------------------------------------------------------
    (
        "insert policy without WITH CHECK",
        [
            "create table public.feedback (id bigint primary key, body text)",
            "alter table public.feedback enable row level security",
            "revoke all on public.feedback from anon",
            "create policy feedback_insert on public.feedback for insert to authenticated",
        ],
        {("insert_policy_without_check", W, "public.feedback policy feedback_insert")},
    ),
    (
        "near-miss: insert policy with a check on the row",
        [
            "create table public.feedback (id bigint primary key, body text)",
            "alter table public.feedback enable row level security",
            "revoke all on public.feedback from anon",
            "create policy feedback_insert on public.feedback for insert to authenticated "
            "with check (body <> '')",
        ],
        set(),
    ),
    # -- policy_exists_rls_disabled -----------------------------------------------------------
    (
        "policy on a private table whose RLS is off",
        [
            "create table private.drafts (id bigint primary key, owner_id uuid)",
            "create policy drafts_own on private.drafts for select to authenticated "
            "using (owner_id = (select auth.uid()))",
        ],
        {("policy_exists_rls_disabled", Severity.INFO, "private.drafts")},  # not exposed
    ),
    (
        "near-miss: the same table with RLS on",
        [
            "create table private.drafts (id bigint primary key, owner_id uuid)",
            "create index drafts_owner_idx on private.drafts (owner_id)",
            "alter table private.drafts enable row level security",
            "create policy drafts_own on private.drafts for select to authenticated "
            "using (owner_id = (select auth.uid()))",
        ],
        set(),
    ),
    # -- policy_reads_only_session ------------------------------------------------------------
    (
        "update policy admitting every row to any signed-in user",
        ["create policy blocks_update_any on public.blocks for update to authenticated "
         "using ((select auth.uid()) is not null)"],
        {("policy_reads_only_session", W, "public.blocks policy blocks_update_any")},
    ),
    (
        "near-miss: a column named like a function it calls",
        [
            "create table public.sessions_x (id bigint primary key, uid uuid)",
            "create index sessions_x_uid_idx on public.sessions_x (uid)",
            "alter table public.sessions_x enable row level security",
            "revoke all on public.sessions_x from anon",
            "create policy sessions_own on public.sessions_x for select to authenticated "
            "using (uid = (select auth.uid()))",
        ],
        set(),
    ),
]


@pytest.mark.parametrize(
    ("statements", "expected"),
    [pytest.param(sql, expected, id=name) for name, sql, expected in CASES],
)
def test_case_adds_exactly_its_findings(
    db: psycopg.Connection, statements: list[str], expected: set[Key]
) -> None:
    before = _keys(run_lints(db))
    for statement in statements:
        db.execute(statement.encode())
    after = _keys(run_lints(db))
    added, removed = after - before, before - after
    assert added == expected, f"new findings: {_show(added)}; expected: {_show(expected)}"
    assert removed == set(), f"findings that vanished: {_show(removed)}"


def test_initplan_fix_clears_the_finding(db: psycopg.Connection) -> None:
    """Undoing migration 0012 for one policy brings its finding back; the stack has none."""
    def initplan(conn: psycopg.Connection) -> set[str]:
        return {f.object for f in run_lints(conn) if f.rule == "auth_rls_initplan"}

    assert initplan(db) == set()
    db.execute(b"alter policy posts_delete_author_or_moderator on public.posts "
               b"using (author_id = (select auth.uid()) or private.is_moderator())")
    assert initplan(db) == {"public.posts policy posts_delete_author_or_moderator"}


# -- the pure text helpers ---------------------------------------------------------------------
def test_calls_inside_a_sub_select_are_wrapped() -> None:
    expr = ("((author_id = ( SELECT auth.uid() AS uid)) OR private.is_moderator() "
            "OR (note = 'auth.uid()'::text))")
    calls = row_independent_calls(expr, [("uid", "auth"), ("is_moderator", "private")])
    assert sorted((c.text, c.wrapped) for c in calls) == [
        ("auth.uid()", True), ("private.is_moderator()", False)]


def test_a_column_is_told_from_a_function_of_the_same_name() -> None:
    assert not reads_a_column("(( SELECT auth.uid() AS uid) IS NOT NULL)", ["uid"])
    assert reads_a_column("(uid = ( SELECT auth.uid() AS uid))", ["uid"])
    assert not reads_a_column("(status = 'uid'::text)", ["uid"])


def test_partial_index_predicates() -> None:
    assert covers(None, ["post_id"])
    assert covers("(post_id IS NOT NULL)", ["post_id"])
    assert covers("((a IS NOT NULL) AND (b IS NOT NULL))", ["a", "b"])
    assert not covers("(processed_at IS NULL)", ["actor_id"])
    assert not covers("((a IS NOT NULL) AND (c > 1))", ["a"])


def _moderator_check_calls(dsn: str) -> tuple[int, int]:
    """(calls of private.is_moderator(), posts) for one bare DELETE FROM public.posts as the
    surface world's moderator, in a transaction rolled back; counted by PostgreSQL itself
    (track_functions: the helper is SECURITY DEFINER with its own search_path, never inlined)."""
    surface = build_surface_world()
    moderator = surface.viewers["moderator"]
    with db_session.connect(dsn) as conn:
        try:
            conn.execute(sql.SQL(";\n").join(world_statements(surface.world)).as_bytes(conn))
            conn.execute(b"set local track_functions = 'all'")
            posts = conn.execute(b"select count(*) from public.posts").fetchone()
            conn.execute(request_settings(moderator, "DELETE", "/rest/v1/posts").as_bytes(conn))
            conn.execute(b"delete from public.posts")
            conn.execute(b"reset role")
            calls = conn.execute(
                b"select coalesce(sum(calls), 0) from pg_catalog.pg_stat_xact_user_functions "
                b"where schemaname = 'private' and funcname = 'is_moderator'").fetchone()
        finally:
            conn.rollback()
    assert posts and calls
    return int(calls[0]), int(posts[0])


@pytest.mark.needs("postgres")
def test_initplan_fix_calls_the_helper_once_per_statement(scratch_database: str) -> None:
    """Migration 0012's effect, counted rather than timed: with the wrapped call a bare DELETE
    over every post asks private.is_moderator() once; with the per-row call undone, once for
    every post the moderator did not write (OR stops at its own)."""
    once, posts = _moderator_check_calls(scratch_database)
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(b"alter policy posts_delete_author_or_moderator on public.posts "
                     b"using (author_id = (select auth.uid()) or private.is_moderator())")
    per_row, _ = _moderator_check_calls(scratch_database)
    assert posts > 3
    assert once == 1
    assert per_row >= posts - 1 and per_row > once
