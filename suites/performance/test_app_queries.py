"""SoberTube's reads timed as PostgREST runs them under RLS, each with its plan.

Timings go to pytest-benchmark, for the run page's plots and history and for the opt-in
comparison with a recorded baseline (`--baseline-file`, or `python -m
soberharness.report.baseline compare`); before every round a fixed reference piece of server
work is timed too (extra_info.reference_rounds). Fast queries run extra_info.calls_per_round
times per round (a round lasts >= 5 ms). Each benchmark's extra_info carries the data scale,
the plan's scan nodes and any plan finding. The plan tests fail on a sequential scan over a
large table. The default regression gate is test_ab_gate.py (both sides in this run).
"""

from __future__ import annotations

import pytest

from soberharness.bench.ab import calls_per_round
from soberharness.checker.plans import seq_scan_findings, summary
from soberharness.runner.plans import explain
from soberharness.workload.app_queries import QUERY_NAMES, TRENDING_REFRESH


def _check_result(name: str, rows: list[tuple]) -> None:
    """The request answered with what the app expects (not an empty page)."""
    assert len(rows) == 1, f"{name}: PostgREST's read returns one row, got {len(rows)}"
    if name == "trending_top":
        return
    _, page_total, body, *_ = rows[0]
    assert page_total >= 1, f"{name}: empty page"
    if name in ("home_feed", "search_posts"):
        assert page_total == 20, f"{name}: expected a full page of 20, got {page_total}"
    if name == "like_count":
        assert body[0]["count"] > 0, "like_count: the probe post has no visible likes"
    if name == "profile_page":
        assert body[0]["posts"], "profile_page: the profile shows no posts"


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_query(benchmark, perf_db, perf_rounds: int, reference, name: str) -> None:
    query, viewer = perf_db.query(name)
    runner = perf_db.runner
    outcome = runner.run(viewer, query.request)
    assert outcome.ok, f"{name}: {outcome.error}"
    if name == "trending_top":
        assert outcome.rows, "trending_top: the trending view is empty"
    else:
        _check_result(name, outcome.rows)
    plan = explain(runner, viewer, query.request)
    benchmark.extra_info.update(
        scale=perf_db.scale_label,
        http=query.http,
        plan=summary(plan),
        findings=[f.line() for f in seq_scan_findings(name, plan)],
    )
    calls = calls_per_round(lambda: runner.run(viewer, query.request))

    def batch() -> None:
        for _ in range(calls):
            runner.run(viewer, query.request)

    benchmark.pedantic(batch, rounds=perf_rounds, warmup_rounds=2, iterations=1,
                       setup=reference.measure)
    benchmark.extra_info["calls_per_round"] = calls
    benchmark.extra_info["reference_rounds"] = reference.last(perf_rounds)


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_plan_scans_no_large_table_whole(perf_db, name: str) -> None:
    query, viewer = perf_db.query(name)
    plan = explain(perf_db.runner, viewer, query.request)
    findings = seq_scan_findings(name, plan)
    assert not findings, "; ".join(f.line() for f in findings)


def test_trending_refresh(benchmark, perf_db, perf_rounds: int, reference) -> None:
    conn = perf_db.conn
    benchmark.extra_info.update(scale=perf_db.scale_label, http="REFRESH MATERIALIZED VIEW")
    rounds = perf_rounds
    benchmark.pedantic(conn.execute, args=(TRENDING_REFRESH,), rounds=rounds,
                       warmup_rounds=1, iterations=1, setup=reference.measure)
    benchmark.extra_info["reference_rounds"] = reference.last(rounds)
    row = conn.execute(
        "select count(*), coalesce(sum(likes_7d), 0) from analytics.trending_posts").fetchone()
    assert row is not None and row[0] > 0, "the refreshed trending view is empty"
    fresh = conn.execute(
        "select count(*) from public.likes where post_id is not null "
        "and created_at >= now() - interval '7 days'").fetchone()
    assert fresh is not None and row[1] == fresh[0], "trending counts disagree with the likes"


def test_search_helper_finds_matches_by_the_gin_index(perf_db) -> None:
    """The search RPC's plan shows only a function scan; its helper's own query is planned here
    as the helper runs it (as its owner, so without RLS)."""
    plan = perf_db.conn.execute(
        "EXPLAIN (VERBOSE, FORMAT JSON) SELECT p.id, p.author_id, p.hidden_at "
        "FROM public.posts p WHERE p.search @@ to_tsquery('english', %s) "
        "ORDER BY p.created_at DESC", (perf_db.probes.search_term,)).fetchone()
    assert plan is not None
    tree = plan[0][0]["Plan"]
    assert not seq_scan_findings("search_post_ids", tree), summary(tree)
    assert any("[posts_search_idx]" in line for line in summary(tree)), summary(tree)
