"""Canaries can fail: a planted defect that copies a hidden text somewhere a viewer reads is
reported as the marker, where it came from, the viewer and the relation and column it was read
in; on the clean stack every marker found is one its viewer may know."""

from __future__ import annotations

import pytest

from soberharness.access.planted_values import (
    COPIED_HANDLE,
    HIDDEN_PREVIEW,
    HIDDEN_TEXT_IN_FUNCTION_ERROR,
    HIDDEN_TEXT_IN_REFUSAL,
)
from soberharness.checker.canaries import leaks
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.lints.catalog import exposed_schemas
from soberharness.runner.canaries import CanaryRun, refused_cells, run_canaries
from soberharness.world.matrix_world import build_matrix_world


def _run(dsn: str, defect: str, refusals_of: set[str] | None = None) -> CanaryRun:
    mw = build_matrix_world()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(defect.encode())
    refused = refused_cells(mw, refusals_of) if refusals_of else set()
    return run_canaries(dsn, mw, exposed_schemas(), refused)


@pytest.mark.needs("postgres")
def test_clean_stack_shows_each_viewer_only_markers_it_may_know(scratch_database: str) -> None:
    run = _run(scratch_database, "select 1")
    assert run.found > run.canaries, "viewers read (known) markers: the search sees them"
    assert not run.leaks, "\n".join(leak.describe() for leak in run.leaks)


@pytest.mark.needs("postgres")
def test_preview_of_a_hidden_post_is_traced_to_its_source(scratch_database: str) -> None:
    run = _run(scratch_database, HIDDEN_PREVIEW)
    assert {(leak.relation, leak.column) for leak in run.leaks} == {
        ("public.profiles", "latest_post")}
    assert ("anon", "public.posts.body of the hidden post of O_public") in {
        (leak.viewer, leak.source) for leak in run.leaks}


@pytest.mark.needs("postgres")
def test_copied_handle_of_a_community_profile_is_traced_to_its_source(
    scratch_database: str,
) -> None:
    run = _run(scratch_database, COPIED_HANDLE)
    assert {(leak.relation, leak.column) for leak in run.leaks} == {
        ("public.member_directory", "handle")}
    anon = {leak.source for leak in run.leaks if leak.viewer == "anon"}
    assert anon == {"public.profiles.handle of the profile of O_community",
                    "public.profiles.handle of the profile of O_private"}


def test_a_marker_is_a_leak_only_for_viewers_who_may_not_know_it() -> None:
    found = [("public.p", "body", "cnry00000001"), ("public.p", "body", "cnryffffffff")]
    knowers = {"cnry00000001": frozenset({"self/public"})}
    sources = {"cnry00000001": "public.posts.body of the hidden post of O_public"}
    assert leaks("self/public", found, knowers, sources) == []
    [leak] = leaks("anon", found, knowers, sources)
    assert (leak.marker, leak.relation, leak.column) == ("cnry00000001", "public.p", "body")
    assert "hidden post of O_public" in leak.describe()


@pytest.mark.needs("postgres")
def test_clean_stack_refusals_carry_no_marker_their_writer_may_not_know(
    scratch_database: str,
) -> None:
    run = _run(scratch_database, "select 1", {"comments", "follows", "posts", "profiles"})
    assert run.refusals > 100, "the refused cells' errors were searched"
    assert not run.leaks, "\n".join(leak.describe() for leak in run.leaks)


@pytest.mark.needs("postgres")
def test_hidden_text_in_a_refusal_is_traced_to_its_source_and_request(
    scratch_database: str,
) -> None:
    """A trigger quoting the hidden post in its refusal: every signed-in user who may not see
    the hidden post and tries to comment on it is told its text (the error's detail)."""
    run = _run(scratch_database, HIDDEN_TEXT_IN_REFUSAL, {"comments"})
    not_knowing = ("follower", "requested", "stranger", "blocked", "blocker")
    assert {(leak.viewer, leak.source, leak.column) for leak in run.leaks} == {
        (actor, f"public.posts.body of the hidden post of O_{privacy}", "detail")
        for actor in not_knowing for privacy in ("public", "community", "private")}
    assert {leak.relation.split(" of a ")[0] for leak in run.leaks} == {
        f"the refusal of [{actor} insert comments [on hidden post]" for actor in not_knowing}


@pytest.mark.needs("postgres")
def test_a_function_failing_only_on_the_marked_world_is_searched_by_its_error(
    scratch_database: str,
) -> None:
    """A function that works on the plain world (so it is in every snapshot) and fails once
    markers exist, quoting a hidden post: the rest of each snapshot is still searched, and the
    failure's text is traced to its source for every viewer who may not see that post."""
    run = _run(scratch_database, HIDDEN_TEXT_IN_FUNCTION_ERROR)
    assert {(leak.relation, leak.column) for leak in run.leaks} == {
        ("public.hidden_teaser()", "error")}
    assert ("anon", "public.posts.body of the hidden post of O_community") in {
        (leak.viewer, leak.source) for leak in run.leaks}
    # (the first hidden post by id is O_community's: its author, and moderators, may know it)
    viewers = {leak.viewer for leak in run.leaks}
    assert "self/community" not in viewers and "moderator" not in viewers
    assert {"anon", "stranger", "self/private"} <= viewers
    assert run.found > run.canaries, "the other relations were still searched"
