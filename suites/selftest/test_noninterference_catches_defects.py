"""The non-interference oracle can fail: each test plants a defect of a shape the access matrix
cannot see (a value of a readable row carrying what the rules hide) in a scratch database and
asserts the oracle names exactly the change, viewer, relation and column; the clean stack has
no difference."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from soberharness.access.planted_values import (
    CLIPS_LISTED_TO_ALL,
    COPIED_HANDLE,
    HIDDEN_PREVIEW,
    LIKES_GIVEN_COUNT,
    PENDING_FOLLOWER_COUNT,
)
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.lints.catalog import exposed_schemas
from soberharness.records.noninterference import Difference
from soberharness.runner.function_calls import callable_functions
from soberharness.runner.noninterference import run_noninterference
from soberharness.workload.invisible_changes import invisible_changes
from soberharness.world.matrix_world import build_matrix_world


def _differences(dsn: str, defect: str, tables: Collection[str] | None) -> list[Difference]:
    mw = build_matrix_world()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(defect.encode())
    run = run_noninterference(dsn, mw, invisible_changes(mw, tables), exposed_schemas())
    assert not run.not_applied, run.not_applied
    return run.differences


def _cells(diffs: list[Difference]) -> set[tuple[str, str, str, str]]:
    return {(d.change, d.viewer, d.relation, d.column) for d in diffs}


@pytest.mark.needs("postgres")
def test_clean_stack_keeps_every_invisible_change_invisible(scratch_database: str) -> None:
    diffs = _differences(scratch_database, "select 1", None)
    assert not diffs, "\n".join(d.describe() for d in diffs)


@pytest.mark.needs("postgres")
def test_follower_count_with_pending_follows_is_named(scratch_database: str) -> None:
    diffs = _differences(scratch_database, PENDING_FOLLOWER_COUNT, {"follows"})
    assert {(d.relation, d.column) for d in diffs} <= {
        ("public.profiles", "follower_count"), ("public.profiles", "updated_at")}
    pending = [d for d in diffs
               if d.change == "insert follows (stranger -> O_private, pending)"
               and d.viewer == "follower" and d.column == "follower_count"]
    assert [(d.before, d.after, d.row) for d in pending] == [(0, 1, "id=O_private")]


@pytest.mark.needs("postgres")
def test_copied_profile_field_is_named(scratch_database: str) -> None:
    diffs = _differences(scratch_database, COPIED_HANDLE, {"profiles"})
    assert {(d.relation, d.column) for d in diffs} == {("public.member_directory", "handle")}
    assert ("update profiles.handle (profile of O_community)", "anon",
            "public.member_directory", "handle") in _cells(diffs)
    assert {(d.before, d.after) for d in diffs if d.viewer == "anon"
            and d.change == "update profiles.handle (profile of O_community)"} == {
        ("matrix_o_community", "matrix_o_community_x")}


@pytest.mark.needs("postgres")
def test_preview_of_hidden_text_is_named(scratch_database: str) -> None:
    diffs = _differences(scratch_database, HIDDEN_PREVIEW, {"posts"})
    assert {(d.relation, d.column) for d in diffs} <= {
        ("public.profiles", "latest_post"), ("public.profiles", "updated_at")}
    edit = "update posts.body (hidden post of O_public)"
    assert (edit, "anon", "public.profiles", "latest_post") in _cells(diffs)
    assert any(d.after == "one day at a time (edited)" for d in diffs
               if d.change == edit and d.viewer == "anon" and d.column == "latest_post")


# A view anon may select but not read (it calls a function anon may not execute): reading it
# fails for anon, so its snapshot falls back to one relation at a time, the error its digest.
FAILING_VIEW = """
create function private.nobody_may_call() returns integer language sql as $$ select 1 $$;
revoke all on function private.nobody_may_call() from public, anon, authenticated;
create view public.failing_for_anon with (security_invoker = true) as
  select p.id, private.nobody_may_call() as n from public.profiles p;
grant select on public.failing_for_anon to anon, authenticated;
"""


@pytest.mark.needs("postgres")
def test_a_relation_failing_for_a_viewer_is_compared_by_its_error(scratch_database: str) -> None:
    diffs = _differences(scratch_database, FAILING_VIEW, {"profiles", "follows"})
    assert not diffs, "\n".join(d.describe() for d in diffs)


@pytest.mark.needs("postgres")
def test_a_change_the_database_refuses_is_named_not_judged(scratch_database: str) -> None:
    mw = build_matrix_world()
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(b"create function private.no_follows() returns trigger language plpgsql "
                     b"as $$ begin raise exception 'closed'; end $$; "
                     b"create trigger no_follows before insert on public.follows "
                     b"for each row execute function private.no_follows()")
    changes = [ic for ic in invisible_changes(mw, {"follows"})
               if ic.change.change.kind == "insert"]
    run = run_noninterference(scratch_database, mw, changes, exposed_schemas())
    assert sorted(run.not_applied) == sorted(ic.change.change.label for ic in changes)
    assert not run.differences


# The display name (a column the model does not hold) copied into a directory view.
COPIED_DISPLAY_NAME = """
create view public.name_directory as select p.id, p.display_name from public.profiles p;
grant select on public.name_directory to anon, authenticated;
"""


@pytest.mark.needs("postgres")
def test_copied_unmodelled_profile_field_is_named(scratch_database: str) -> None:
    diffs = _differences(scratch_database, COPIED_DISPLAY_NAME, {"profiles"})
    assert {(d.relation, d.column) for d in diffs} == {("public.name_directory", "display_name")}
    assert ("update profiles.display_name (profile of O_private)", "anon",
            "public.name_directory", "display_name") in _cells(diffs)


@pytest.mark.needs("postgres")
def test_definer_function_counting_hidden_likes_is_named(scratch_database: str) -> None:
    """A function every API role may call, counting likes the caller may not see: its result
    on the sample argument naming the liker moves with a like on a hidden post."""
    diffs = _differences(scratch_database, LIKES_GIVEN_COUNT, {"likes"})
    assert {(d.relation, d.column) for d in diffs} == {("public.likes_given(uuid)", "result")}
    like = "insert likes (by requested on the hidden post of O_public)"
    assert {(d.viewer, d.row, d.before, d.after) for d in diffs
            if d.change == like and d.viewer == "anon"} == {
        ("anon", "args=user_id='requested'", 0, 1)}


@pytest.mark.needs("postgres")
def test_only_stable_callable_functions_are_called(scratch_database: str) -> None:
    """The rule of docs/access-decisions.md (D35): a VOLATILE function (it may write) and one
    the viewer may not execute are not called; a STABLE one it may execute is."""
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(LIKES_GIVEN_COUNT.encode())
        conn.execute(b"create function public.touch(n integer) returns integer language sql "
                     b"volatile as $$ select n $$; "
                     b"create function public.for_service(n integer) returns integer "
                     b"language sql stable as $$ select n $$; "
                     b"revoke execute on function public.for_service(integer) from public, anon, "
                     b"authenticated")
        with conn.transaction(force_rollback=True):
            conn.execute(b"set local role anon")
            called = {f.label for f in callable_functions(conn, ["public"])}
    assert "public.likes_given(uuid)" in called
    assert not called & {"public.touch(integer)", "public.for_service(integer)"}


@pytest.mark.needs("postgres")
def test_clips_listed_to_every_user_are_named_in_the_database_snapshot(
    scratch_database: str,
) -> None:
    """What a viewer may list is what it may select of storage.objects (the local target has
    no Storage API): a policy listing every clip shows the private owner's new clip to a
    blind signed-in viewer, as a new row of storage.objects."""
    diffs = _differences(scratch_database, CLIPS_LISTED_TO_ALL, {"objects"})
    assert {(d.relation, d.column) for d in diffs} <= {
        ("storage.objects", "(row)"),
        ("storage.search(text, text, integer, integer, integer, text, text, text)", "result")}
    upload = "insert objects (videos/sibling-clip.mp4 of O_private)"
    assert (upload, "stranger", "storage.objects", "(row)") in _cells(diffs)
    assert "anon" not in {d.viewer for d in diffs}
