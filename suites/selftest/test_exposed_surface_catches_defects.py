"""The exposed-surface check can fail: each test plants a function or view in a scratch clone
of the stack and asserts the check reports exactly what it opens, per the access model."""

from __future__ import annotations

import pytest

from soberharness.access.model import AccessModel
from soberharness.db import session as db_session
from soberharness.lints.catalog import DEFAULT_EXPOSED_SCHEMAS
from soberharness.lints.declarations import Declaration, Declarations, failing
from soberharness.lints.exposed_surface import (
    LEAK_RULE,
    NOT_EXERCISED_RULE,
    SurfaceRun,
    check_exposed_surface,
    discover,
)
from soberharness.records.results import UNMODELLED_RULE
from soberharness.world.surface_world import SurfaceWorld, build_surface_world

SEARCH = "public.search_posts(query text, max_rows integer)"


def _run(dsn: str, statements: list[str]) -> tuple[SurfaceRun, SurfaceWorld]:
    with db_session.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())
    surface = build_surface_world()
    with db_session.connect(dsn) as conn:
        return check_exposed_surface(conn, surface, DEFAULT_EXPOSED_SCHEMAS), surface


def _hidden_posts(surface: SurfaceWorld) -> set[tuple[str, object]]:
    """(actor, post id) for every post of the world the model hides from that actor."""
    model = AccessModel(surface.world)
    return {
        (label, post)
        for label, viewer in surface.viewers.items()
        for post in surface.world.posts
        if post not in model.visible(viewer)["posts"]
    }


def _leaks(run: SurfaceRun, label: str) -> set[tuple[str, object]]:
    return {(lk.actor, lk.key) for lk in run.leaks if lk.object == label and lk.table == "posts"}


@pytest.mark.needs("postgres")
def test_clean_stack_leaks_nothing_and_judges_rows(scratch_database: str) -> None:
    run, _ = _run(scratch_database, [])
    assert run.leaks == []
    assert run.rows_judged > 0
    assert {f.rule for f in run.findings()} == {"unmodelled_exposed_surface"}


@pytest.mark.needs("postgres")
def test_search_through_a_private_definer_function_leaks_exactly_the_hidden_posts(
    scratch_database: str,
) -> None:
    # The classic bypass: an invoker RPC in public reading through a definer helper in private.
    run, surface = _run(scratch_database, [
        "create function private.all_posts() returns setof public.posts language sql stable "
        "security definer set search_path = '' as $$ select * from public.posts $$",
        "grant execute on function private.all_posts() to anon, authenticated",
        "create or replace function public.search_posts(query text, max_rows integer default 20)"
        " returns setof public.posts language sql stable set search_path = '' "
        "as $$ select * from private.all_posts() $$",
    ])
    expected = _hidden_posts(surface)
    assert expected, "the model hides some posts from some actors"
    assert _leaks(run, SEARCH) == expected
    assert {(f.rule, f.object) for f in run.findings() if f.rule == LEAK_RULE} == {
        (LEAK_RULE, SEARCH)
    }


@pytest.mark.needs("postgres")
def test_invoker_view_over_a_private_definer_view_leaks_exactly_the_hidden_posts(
    scratch_database: str,
) -> None:
    run, surface = _run(scratch_database, [
        "create view private.posts_as_owner as select id, author_id, body from public.posts",
        "grant select on private.posts_as_owner to anon, authenticated",
        "create view public.post_feed with (security_invoker = true) as "
        "select * from private.posts_as_owner",
        "grant select on public.post_feed to anon, authenticated",
    ])
    assert _leaks(run, "public.post_feed") == _hidden_posts(surface)
    assert {f.object for f in run.findings() if f.rule == LEAK_RULE} == {"public.post_feed"}


@pytest.mark.needs("postgres")
def test_scalar_function_is_unmodelled_surface_until_declared(scratch_database: str) -> None:
    label = "public.follower_count(target uuid)"
    run, _ = _run(scratch_database, [
        "create function public.follower_count(target uuid) returns bigint language sql stable "
        "set search_path = '' as $$ select count(*) from public.follows f "
        "where f.followee_id = target $$",
    ])
    unmodelled = {f.object for f in run.findings() if f.rule == UNMODELLED_RULE}
    assert label in unmodelled
    declared = Declarations((Declaration(UNMODELLED_RULE, label, "counts only", "test"),))
    assert label in {f.object for f in failing(run.findings())}
    assert label not in {f.object for f in failing(declared.judge(run.findings()))}


@pytest.mark.needs("postgres")
def test_discovery_sees_every_schema_and_skips_what_api_roles_cannot_reach(
    scratch_database: str,
) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(b"create schema api")
        conn.execute(b"grant usage on schema api to anon")
        conn.execute(b"create view api.posts_v with (security_invoker = true) "
                     b"as select id, body from public.posts")
        conn.execute(b"grant select on api.posts_v to anon")
        conn.execute(b"create view public.unreadable with (security_invoker = true) "
                     b"as select id from public.posts")
        conn.execute(b"revoke all on public.unreadable from anon, authenticated")
        default = {o.label for o in discover(conn, DEFAULT_EXPOSED_SCHEMAS)}
        extended = {o.label for o in discover(conn, [*DEFAULT_EXPOSED_SCHEMAS, "api"])}
    assert "public.unreadable" not in default
    assert "api.posts_v" not in default
    assert extended - default == {"api.posts_v"}


@pytest.mark.needs("postgres")
def test_a_function_that_always_fails_is_not_exercised_and_the_rest_still_runs(
    scratch_database: str,
) -> None:
    label = "public.boom(query text)"
    run, _ = _run(scratch_database, [
        "create function public.boom(query text) returns setof public.posts language plpgsql "
        "stable set search_path = '' as $$ begin raise exception 'no'; end $$",
    ])
    assert {(f.rule, f.object) for f in run.findings() if f.object == label} == {
        (NOT_EXERCISED_RULE, label)
    }
    assert run.answered.get(SEARCH, 0) > 0 and run.failed_calls > 0
