"""The data generator (soberharness.world.scale) and the plan check (soberharness.checker.plans).

Generation is checked as numbers (deterministic, shaped as asked); loading and plans on a real
database: the rows arrive complete and consistent, a non-empty database is refused, and the
plan check finds the sequential scan of a plain full-text filter under RLS while the app's
search RPC and feed have none.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from soberharness.checker.plans import seq_scan_findings, summary
from soberharness.clients.postgrest_sql import RequestRunner
from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.runner.plans import explain
from soberharness.workload import app_queries
from soberharness.world.entities import Role, Viewer
from soberharness.world.scale import (
    Probes,
    ScaleData,
    ScaleSpec,
    generate,
    load,
    probes,
)

# Content ends today (fixed once for the module), so the 7-day trending window has likes.
ANCHOR = ScaleSpec().anchor_time
SPEC = ScaleSpec(users=2000, posts=8000, seed=11, anchor=ANCHOR)


@pytest.fixture(scope="module")
def data() -> ScaleData:
    return generate(SPEC)


def test_same_seed_same_rows_other_seed_other_rows(data: ScaleData) -> None:
    again = generate(SPEC)
    assert list(again.user_ids) == list(data.user_ids)
    assert np.array_equal(again.follow_dst, data.follow_dst)
    assert np.array_equal(again.like_created, data.like_created)
    other = generate(ScaleSpec(users=2000, posts=8000, seed=12, anchor=ANCHOR))
    assert list(other.user_ids) != list(data.user_ids)


def test_sizes_and_privacy_shares(data: ScaleData) -> None:
    counts = data.counts()
    assert counts["users"] == 2000 and counts["posts"] == 8000
    assert counts["videos"] == 400 and counts["comments"] == 4000 and counts["likes"] == 8000
    shares = np.bincount(data.privacy, minlength=3) / len(data.privacy)
    assert np.allclose(shares, [0.7, 0.2, 0.1], atol=0.03), shares


def test_follow_graph_is_heavy_tailed_and_clean(data: ScaleData) -> None:
    n = len(data.user_ids)
    assert not np.any(data.follow_src == data.follow_dst)
    pairs = data.follow_src * n + data.follow_dst
    assert len(np.unique(pairs)) == len(pairs)
    followers = np.bincount(data.follow_dst, minlength=n)
    # A few accounts with very many followers: the top one has far more than the typical one.
    assert followers.max() > 20 * max(np.median(followers), 1), followers.max()
    assert data.follow_pending.any() and not data.follow_pending[
        data.privacy[data.follow_dst] != 2].any()


def test_likes_unique_per_user_and_parent_and_never_in_the_future(data: ScaleData) -> None:
    key = data.like_user * 10**7 + np.where(data.like_on_post, data.like_parent,
                                           data.like_parent + 10**6)
    assert len(np.unique(key)) == len(key)
    anchor = np.datetime64(ANCHOR.replace(tzinfo=None), "s")
    assert data.like_created.max() <= anchor and data.comment_created.max() <= anchor


# -- loaded -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def loaded(module_scratch_database: str, data: ScaleData) -> Iterator[tuple[str, Probes]]:
    load(module_scratch_database, data)
    yield module_scratch_database, probes(data)


def test_loaded_rows_match_and_indexes_are_back(loaded: tuple[str, Probes],
                                                 data: ScaleData) -> None:
    dsn, _ = loaded
    with db_session.connect(dsn, autocommit=True) as conn:
        for table, key in (("auth.users", "users"), ("public.profiles", "users"),
                           ("public.follows", "follows"), ("public.posts", "posts"),
                           ("public.videos", "videos"), ("public.comments", "comments"),
                           ("public.likes", "likes")):
            row = conn.execute(f"select count(*) from {table}").fetchone()
            assert row is not None and row[0] == data.counts()[key], table
        names = {r[0] for r in conn.execute(
            "select indexname from pg_indexes where schemaname = 'public'").fetchall()}
        assert {"posts_author_created_idx", "posts_search_idx", "likes_post_idx",
                "follows_followee_status_idx"} <= names
        row = conn.execute("select count(*) from analytics.trending_posts").fetchone()
        assert row is not None and row[0] > 0


def test_loading_twice_is_refused(loaded: tuple[str, Probes], data: ScaleData) -> None:
    with pytest.raises(HarnessError, match="not empty"):
        load(loaded[0], data)


def test_plan_check_finds_the_seq_scan_of_a_plain_fts_filter(loaded: tuple[str, Probes]) -> None:
    dsn, p = loaded
    viewer = Viewer(Role.AUTHENTICATED, uuid.UUID(p.feed_user))
    with db_session.connect(dsn, autocommit=True) as conn:
        runner = RequestRunner(conn)
        direct = app_queries.search_posts_direct(p.search_term)
        findings = seq_scan_findings(direct.name, explain(runner, viewer, direct.request))
        assert [(f.table, f.node) for f in findings] == [("public.posts", "Seq Scan")]
        assert "search_posts_direct: Seq Scan on public.posts" in findings[0].line()
        for query in (app_queries.search_posts(p.search_term), app_queries.home_feed(p.feed_user)):
            plan = explain(runner, viewer, query.request)
            assert not seq_scan_findings(query.name, plan), summary(plan)
            outcome = runner.run(viewer, query.request)
            assert outcome.ok and outcome.rows[0][1] > 0, outcome.error


def test_trending_view_is_closed_to_api_roles(loaded: tuple[str, Probes]) -> None:
    dsn, p = loaded
    with db_session.connect(dsn, autocommit=True) as conn:
        runner = RequestRunner(conn)
        request = app_queries.trending_top().request
        for viewer in (Viewer.anon(), Viewer(Role.AUTHENTICATED, uuid.UUID(p.feed_user))):
            outcome = runner.run(viewer, request)
            assert not outcome.ok and outcome.error and outcome.error.startswith("42501"), (
                viewer.role, outcome)
        served = runner.run(Viewer.service(), request)
        assert served.ok and served.rows, served.error
