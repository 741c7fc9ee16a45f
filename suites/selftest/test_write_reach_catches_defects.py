"""The write-reach lint can fail: an UPDATE or DELETE policy planted broader than the table's
SELECT policy is reported as exactly the rows (table, operation, actor) it lets a bare
statement change unseen; the clean stack reaches none."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.lints.catalog import DEFAULT_EXPOSED_SCHEMAS
from soberharness.lints.write_reach import RULE, Reach, find_reaches, findings_of
from soberharness.world.surface_world import SurfaceWorld, build_surface_world


def _reaches(dsn: str, statements: list[str]) -> tuple[list[Reach], SurfaceWorld]:
    with db_session.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())
    surface = build_surface_world()
    with db_session.connect(dsn) as conn:
        return find_reaches(conn, surface, list(DEFAULT_EXPOSED_SCHEMAS)), surface


@pytest.mark.needs("postgres")
def test_clean_stack_changes_only_what_it_shows(scratch_database: str) -> None:
    reaches, _ = _reaches(scratch_database, [])
    assert reaches == []


@pytest.mark.needs("postgres")
def test_comment_update_policy_without_visibility_reaches_the_unseen_own_comments(
    scratch_database: str,
) -> None:
    reaches, surface = _reaches(scratch_database, [
        "drop policy comments_update_author on public.comments",
        "create policy comments_update_author on public.comments for update to authenticated "
        "using (author_id = (select auth.uid())) with check (author_id = (select auth.uid()))",
    ])
    # Own comments the author can no longer read: the follower's on hidden posts and videos, and
    # those of `blocked` and `blocker` on the content of the owners they are blocked from.
    world = surface.world
    unseen = {
        (actor, str(c.id))
        for actor in ("follower", "blocked", "blocker")
        for c in world.comments.values()
        if c.author == surface.viewers[actor].user_id
        and ((world.posts.get(c.parent.id) or world.videos[c.parent.id]).hidden
             or actor != "follower")
    }
    assert unseen
    assert {(r.actor, r.key.rstrip("|")) for r in reaches} == unseen
    assert {(r.table, r.op) for r in reaches} == {("public.comments", "update")}
    assert [(f.rule, f.object) for f in findings_of(reaches)] == [(RULE, "public.comments")]


@pytest.mark.needs("postgres")
def test_object_delete_policy_without_read_rule_reaches_other_buckets_objects(
    scratch_database: str,
) -> None:
    # A moderator delete policy on videos that forgot the bucket: the moderator reads every
    # object anyway, so it stays within what it sees; a policy for everyone signed in does not.
    reaches, _ = _reaches(scratch_database, [
        "create policy leak_delete on storage.objects for delete to authenticated "
        "using (bucket_id = 'videos')",
    ])
    assert reaches
    assert {(r.table, r.op) for r in reaches} == {("storage.objects", "delete")}
    assert "moderator" not in {r.actor for r in reaches}
    assert {"stranger", "blocked", "blocker", "requested"} <= {r.actor for r in reaches}


@pytest.mark.needs("postgres")
def test_insert_policy_with_open_check_writes_rows_the_actor_cannot_read(
    scratch_database: str,
) -> None:
    reaches, surface = _reaches(scratch_database, [
        "drop policy posts_insert_own on public.posts",
        "create policy posts_insert_any on public.posts for insert to authenticated "
        "with check (true)",
    ])
    assert {(r.table, r.op) for r in reaches} == {("public.posts", "insert")}
    # a signed-in stranger may copy posts it cannot read (hidden ones, private profiles')
    assert "stranger" in {r.actor for r in reaches}
    hidden = {str(p.id) for p in surface.world.posts.values() if p.hidden}
    assert hidden & {r.key.rstrip("|") for r in reaches if r.actor == "stranger"}
    assert [(f.rule, f.object) for f in findings_of(reaches)] == [(RULE, "public.posts")]


@pytest.mark.needs("postgres")
def test_insert_policy_without_the_engage_check_reaches_own_unseen_comments(
    scratch_database: str,
) -> None:
    # Near-miss beside it: the clean stack's comments_insert_own (author and can_engage)
    # reaches nothing (test_clean_stack_changes_only_what_it_shows).
    reaches, _ = _reaches(scratch_database, [
        "drop policy comments_insert_own on public.comments",
        "create policy comments_insert_own on public.comments for insert to authenticated "
        "with check (author_id = (select auth.uid()))",
    ])
    assert reaches
    assert {(r.table, r.op) for r in reaches} == {("public.comments", "insert")}
