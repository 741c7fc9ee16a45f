"""The matrix's newer paths can fail: moderators in a block, forged token claims, aal2 both
ways, every parent of a reaction, the coverage self-check, storage moves and bucket settings.
Each test breaks a scratch database on purpose and asserts that exactly the cells (or findings)
the defect opens are reported."""

from __future__ import annotations

import pytest

from soberharness.access.planted_values import (
    INSERT_ONLY_FEATURED,
    TRUSTED_VERIFIED,
    TRUSTED_VERIFIED_VIA_HELPER,
)
from soberharness.checker.buckets import bucket_findings
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.lints.catalog import RULES, run_lints
from soberharness.lints.coverage import matrix_surface, reachable_surface, uncovered
from soberharness.lints.storage_api_objects import known_storage_api
from soberharness.records.results import Cell, Op
from soberharness.runner.matrix import MatrixRun, run_matrix
from soberharness.world.entities import Privacy
from soberharness.world.matrix_world import ACTORS, PARENTS, build_matrix_world

SIGNED_IN = [a for a in ACTORS if a not in ("anon", "service")]
PRIVACIES = [p.value for p in Privacy]


def _run(dsn: str, defect: str, tables: set[str]) -> MatrixRun:
    mw = build_matrix_world()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(defect.encode())
    run = run_matrix(dsn, mw, workers=2, tables=tables)
    assert {r.cell.table for r in run.results} == tables
    return run


def _mismatched(run: MatrixRun) -> set[tuple[str, str, str, str, str]]:
    return {(c.table, c.op.value, c.case, c.actor, c.privacy)
            for c in (r.cell for r in run.mismatches)}


def _cells(table: str, op: str, cases: list[str], actors: list[str],
           privacies: list[str] = PRIVACIES) -> set[tuple[str, str, str, str, str]]:
    return {(table, op, case, actor, p) for case in cases for actor in actors for p in privacies}


def _lint(dsn: str, rule: str) -> list[tuple[str, str]]:
    with db_session.connect(dsn, autocommit=True) as conn:
        findings = run_lints(conn, rules=[r for r in RULES if r.name == rule])
    return [(f.object, f.message) for f in findings]


# ---------------------------------------------------------------- 3: roles with relations


@pytest.mark.needs("postgres")
def test_comment_check_without_the_block_lets_blocking_moderators_comment(
    scratch_database: str,
) -> None:
    """Moderators see past blocks, so a comment check on visibility alone (no block check)
    opens commenting across a block to them, and to nobody else."""
    run = _run(
        scratch_database,
        "drop policy comments_insert_own on public.comments;"
        "create policy comments_insert_own on public.comments for insert to authenticated"
        "  with check (author_id = (select auth.uid())"
        "              and private.parent_visible(post_id, video_id))",
        {"comments"},
    )
    on_parents = [f"on {name}" for name in PARENTS.values()]
    assert _mismatched(run) == _cells(
        "comments", "insert", on_parents, ["moderator+blocked", "moderator+blocker"]
    )


# ------------------------------------------------------------------ 4: claims a user controls


USER_METADATA_POLICY = (
    "create policy moderators_by_metadata on public.posts for select to authenticated"
    "  using ((auth.jwt() -> 'user_metadata' ->> 'role') = 'moderator')"
)


@pytest.mark.needs("postgres")
def test_policy_trusting_user_metadata_opens_the_forged_token_cells(scratch_database: str) -> None:
    run = _run(scratch_database, USER_METADATA_POLICY, {"posts"})
    forged_denied = {
        r.cell for r in run.results
        if r.cell.op.value == "select" and not r.expected and r.cell.token.startswith("forged")
    }
    assert forged_denied, "the model denies some post reads to forged tokens"
    assert {r.cell for r in run.mismatches} == forged_denied
    assert {c.token for c in forged_denied} >= {"forged aal1", "forged aal2"}
    assert _lint(scratch_database, "policy_uses_user_metadata") == [(
        "public.posts policy moderators_by_metadata",
        "policy moderators_by_metadata on public.posts decides on user_metadata "
        "(a user writes their own user_metadata; use app_metadata)",
    )]


@pytest.mark.needs("postgres")
def test_aal2_granting_more_than_the_spec_says_is_caught(scratch_database: str) -> None:
    """aal2 matters for account deletion only: a read policy for aal2 sessions shows on
    exactly the denied post reads sent with an aal2 token."""
    run = _run(
        scratch_database,
        "create policy second_factor_reads on public.posts for select to authenticated"
        "  using ((auth.jwt() ->> 'aal') = 'aal2')",
        {"posts"},
    )
    aal2_denied = {r.cell for r in run.results if r.cell.op.value == "select"
                   and not r.expected and r.cell.token.endswith("aal2")}
    assert aal2_denied
    assert {r.cell for r in run.mismatches} == aal2_denied


@pytest.mark.needs("postgres")
def test_is_anonymous_refusing_writes_is_caught(scratch_database: str) -> None:
    """Decision 22: is_anonymous changes nothing, so refusing such tokens shows on exactly the
    allowed post inserts sent with one."""
    run = _run(
        scratch_database,
        "create policy no_anonymous_posts on public.posts as restrictive for insert"
        "  to authenticated"
        "  with check (not coalesce((auth.jwt() ->> 'is_anonymous')::boolean, false))",
        {"posts"},
    )
    anonymous_allowed = {r.cell for r in run.results if r.cell.op.value == "insert"
                         and r.expected and r.cell.token.startswith("forged+anonymous")}
    assert anonymous_allowed
    assert {r.cell for r in run.mismatches} == anonymous_allowed


@pytest.mark.needs("postgres")
def test_helper_trusting_user_metadata_is_linted_through_the_policies(
    scratch_database: str,
) -> None:
    """A helper two calls below the policy (content_visible -> is_moderator) is found."""
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(
            "create or replace function private.is_moderator() returns boolean"
            " language sql stable security definer set search_path = '' as $fn$"
            "  select auth.uid() is not null and coalesce("
            "    (auth.jwt() -> 'user_metadata' ->> 'role') = 'moderator', false) $fn$"
        )
    found = _lint(scratch_database, "policy_uses_user_metadata")
    objects = {obj for obj, _ in found}
    assert objects == {"private.is_moderator()"}
    messages = " ".join(message for _, message in found)
    for policy in ("posts_select_visible on public.posts", "videos_insert_own on public.videos",
                   "videos_read_as_content on storage.objects"):
        assert f"called by policy {policy}" in messages


@pytest.mark.needs("postgres")
def test_policy_reading_raw_user_meta_data_from_auth_users_is_linted(
    scratch_database: str,
) -> None:
    """The same metadata as GoTrue stores it (auth.users.raw_user_meta_data), on storage."""
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(
            "create function private.claims_admin() returns boolean"
            " language sql stable security definer set search_path = '' as $fn$"
            "  select coalesce((select (u.raw_user_meta_data ->> 'admin')::boolean"
            "                   from auth.users u where u.id = auth.uid()), false) $fn$;"
            "grant execute on function private.claims_admin() to authenticated;"
            "create policy admins_read_videos on storage.objects for select to authenticated"
            "  using (bucket_id = 'videos' and private.claims_admin())"
        )
    assert _lint(scratch_database, "policy_uses_user_metadata") == [(
        "private.claims_admin()",
        "function private.claims_admin(), called by policy admins_read_videos on "
        "storage.objects, decides on user_metadata "
        "(a user writes their own user_metadata; use app_metadata)",
    )]


@pytest.mark.needs("postgres")
def test_the_clean_stack_has_no_user_metadata_finding(scratch_database: str) -> None:
    assert _lint(scratch_database, "policy_uses_user_metadata") == []


DELETION_INSERT = (
    "drop policy account_deletion_requests_insert_own_aal2 on public.account_deletion_requests;"
    "create policy account_deletion_requests_insert_own_aal2 on public.account_deletion_requests"
    "  for insert to authenticated with check (user_id = (select auth.uid()){})"
)


@pytest.mark.needs("postgres")
def test_deletion_request_without_aal2_is_caught(scratch_database: str) -> None:
    run = _run(scratch_database, DELETION_INSERT.format(""), {"account_deletion_requests"})
    assert _mismatched(run) == (
        _cells("account_deletion_requests", "insert", ["for owner, aal1"], ["self"], ["public"])
        | _cells("account_deletion_requests", "insert", ["for the actor, aal1"], SIGNED_IN,
                 ["public"])
    )


@pytest.mark.needs("postgres")
def test_deletion_request_demanding_more_than_aal2_is_caught(scratch_database: str) -> None:
    """The other direction: an aal2 session must be let through."""
    run = _run(
        scratch_database,
        DELETION_INSERT.format(" and (select auth.jwt() ->> 'aal') = 'aal3'"),
        {"account_deletion_requests"},
    )
    assert _mismatched(run) == (
        _cells("account_deletion_requests", "insert", ["for owner, aal2"], ["self"], ["public"])
        | _cells("account_deletion_requests", "insert", ["for the actor, aal2"], SIGNED_IN,
                 ["public"])
    )


# ---------------------------------------------------------------- 5: every parent, every table


@pytest.mark.needs("postgres")
def test_like_check_that_forgets_videos_is_caught_on_video_parents(scratch_database: str) -> None:
    run = _run(
        scratch_database,
        "drop policy likes_insert_own on public.likes;"
        "create policy likes_insert_own on public.likes for insert to authenticated"
        "  with check (user_id = (select auth.uid())"
        "              and (video_id is not null or private.can_engage(post_id, null)))",
        {"likes"},
    )
    video_cases = {"on visible video", "on hidden video"}
    denied = {r.cell for r in run.results
              if r.cell.op.value == "insert" and r.cell.case in video_cases and not r.expected
              and r.cell.actor not in ("anon", "service")}
    assert denied, "the model denies some likes on videos"
    assert {r.cell for r in run.mismatches} == denied


def _coverage(dsn: str, change: str) -> list[str]:
    with db_session.connect(dsn, autocommit=True) as conn:
        conn.execute(change.encode())
        reachable = reachable_surface(conn)
        known = known_storage_api(conn)
    return uncovered(reachable, matrix_surface(build_matrix_world()), known)


@pytest.mark.needs("postgres")
def test_a_new_table_without_cases_is_reported(scratch_database: str) -> None:
    problems = _coverage(
        scratch_database,
        "create table public.notes (id uuid primary key, body text);"
        "alter table public.notes enable row level security;"
        "create policy notes_read on public.notes for select to authenticated using (true)",
    )
    # The image's default privileges give the API roles everything on a new public table.
    assert problems == [
        "public.notes: delete is open to the API roles but has no matrix case",
        "public.notes: insert is open to the API roles but has no matrix case",
        "public.notes: select is open to the API roles but has no matrix case",
        "public.notes: update is open to the API roles but has no matrix case",
        "public.notes.body: updatable by the API roles but no matrix case changes it",
        "public.notes.id: updatable by the API roles but no matrix case changes it",
        "public.notes.body: insertable by the API roles but no matrix case sets it",
        "public.notes.id: insertable by the API roles but no matrix case sets it",
    ]


@pytest.mark.needs("postgres")
def test_a_new_updatable_column_without_cases_is_reported(scratch_database: str) -> None:
    problems = _coverage(
        scratch_database,
        "alter table public.posts add column pinned boolean not null default false;"
        "grant insert (pinned), update (pinned) on public.posts to authenticated",
    )
    assert problems == [
        "public.posts.pinned: updatable by the API roles but no matrix case changes it",
        "public.posts.pinned: insertable by the API roles but no matrix case sets it",
    ]


@pytest.mark.needs("postgres")
def test_an_insert_only_column_without_cases_is_reported(scratch_database: str) -> None:
    assert _coverage(scratch_database, INSERT_ONLY_FEATURED) == [
        "public.posts.featured: insertable by the API roles but no matrix case sets it"]


@pytest.mark.needs("postgres")
def test_a_trusted_column_no_case_sets_is_reported(scratch_database: str) -> None:
    assert _coverage(scratch_database, TRUSTED_VERIFIED) == [
        "public.profiles.verified: read by policy profiles_read_verified, but no matrix case "
        "sets it"]


@pytest.mark.needs("postgres")
def test_a_trusted_column_read_through_a_policy_helper_is_reported(
    scratch_database: str,
) -> None:
    assert _coverage(scratch_database, TRUSTED_VERIFIED_VIA_HELPER) == [
        "public.profiles.verified: read by author_verified (function called by policy "
        "posts_read_verified), but no matrix case sets it"]


@pytest.mark.needs("postgres")
def test_clean_stack_leaves_no_column_unset(scratch_database: str) -> None:
    assert _coverage(scratch_database, "select 1") == []


# ------------------------------------------------------------------------- 6: storage


@pytest.mark.needs("postgres")
def test_video_update_without_a_destination_check_lets_objects_move_anywhere(
    scratch_database: str,
) -> None:
    run = _run(
        scratch_database,
        "drop policy videos_update_own_folder on storage.objects;"
        "create policy videos_update_own_folder on storage.objects for update to authenticated"
        "  using (bucket_id = 'videos' and private.object_owner(name) = (select auth.uid())"
        "         and private.video_object_visible(name))"
        "  with check (bucket_id = 'videos')",
        {"objects:videos"},
    )
    # PostgreSQL also checks the moved row against the SELECT policies (the UPDATE filters on
    # its columns), so the hole is a move into any folder whose videos the mover can read:
    # the owner moving into the stranger's (public) folder; others planting their own clip in
    # the owner's folder when they read the owner's content (rules R1, R4..R7).
    reads_owner = {
        "public": ["follower", "requested", "stranger"],
        "community": ["follower", "requested", "stranger"],
        "private": ["follower"],
    }
    moderators = ["moderator", "moderator+blocked", "moderator+blocker", "moderator+follower"]
    planted = {
        ("objects:videos", "update", "move actor's own object into owner's folder", actor, p)
        for p, actors in reads_owner.items() for actor in [*actors, *moderators]
    }
    assert _mismatched(run) == planted | _cells(
        "objects:videos", "update", ["move to another user's folder"], ["self"]
    )


@pytest.mark.needs("postgres")
def test_guard_without_the_bucket_check_lets_users_move_objects_between_buckets(
    scratch_database: str,
) -> None:
    """Without the guard a private video can be moved into the public avatars bucket."""
    run = _run(
        scratch_database,
        "create or replace function private.guard_object_update() returns trigger"
        " language plpgsql set search_path = '' as $fn$ begin"
        "  if new.id is distinct from old.id then"
        "    raise exception using errcode = '42501', message = 'id never changes';"
        "  end if; return new; end $fn$",
        {"objects:videos", "objects:avatars"},
    )
    assert _mismatched(run) == (
        _cells("objects:videos", "update", ["move into avatars, same name"], ["self"])
        | _cells("objects:videos", "update", ["move actor's own object into avatars"], SIGNED_IN)
        | _cells("objects:avatars", "update", ["move into videos, same name"], ["self"])
        | _cells("objects:avatars", "update", ["move actor's own object into videos"], SIGNED_IN)
    )


def _buckets(dsn: str, change: str, limit: int | None = None) -> list[tuple[str, str]]:
    with db_session.connect(dsn, autocommit=True) as conn:
        conn.execute(change.encode())
        return [(f.object, f.message) for f in bucket_findings(conn, limit)]


@pytest.mark.needs("postgres")
def test_videos_bucket_flipped_public_is_reported(scratch_database: str) -> None:
    assert _buckets(scratch_database, "update storage.buckets set public = true "
                                      "where id = 'videos'") == [(
        "storage.buckets[videos]",
        "bucket videos is public (its objects are read by rule): served without RLS",
    )]


@pytest.mark.needs("postgres")
def test_bucket_limits_are_checked_where_set(scratch_database: str) -> None:
    found = _buckets(
        scratch_database,
        "update storage.buckets set allowed_mime_types = '{image/png,text/html}' "
        "where id = 'avatars';"
        "update storage.buckets set file_size_limit = 104857600 where id = 'videos';"
        "insert into storage.buckets (id, name, public) values ('exports', 'exports', true)",
        limit=52428800,
    )
    assert found == [
        ("storage.buckets[avatars]",
         "bucket avatars accepts text/html (only image/* belongs there)"),
        ("storage.buckets[exports]",
         "bucket exports is public (no rule names it): served without RLS"),
        ("storage.buckets[videos]", "bucket videos allows 104857600 bytes, above the global "
                                    "52428800"),
    ]


@pytest.mark.needs("postgres")
def test_clean_stack_buckets_pass_and_a_missing_bucket_is_reported(scratch_database: str) -> None:
    assert _buckets(scratch_database, "select 1", limit=52428800) == []
    # As the Storage API deletes a bucket: the schema refuses a DELETE without the setting.
    assert _buckets(scratch_database, "begin; select set_config('storage.allow_delete_query', "
                    "'true', true); delete from storage.buckets where id = 'avatars'; "
                    "commit") == [
        ("storage.buckets[avatars]", "bucket avatars named by the rules does not exist")
    ]


def test_cells_name_their_token() -> None:
    cell = Cell("posts", Op.SELECT, "stranger", "public", "hidden", "forged aal2")
    assert cell.label() == (
        "stranger select posts [hidden] of a public owner with forged aal2 claims"
    )
