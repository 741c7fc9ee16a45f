"""The regression gate, proven both ways: on synthetic samples and on the real feed query.

Real part: a database with generated data; the home feed is timed with the index it needs
(posts_author_created_idx), then without it, and the gate must call that a regression; timing
the unchanged stack again must not. The false-alarm rate over repeated unchanged runs is
measured against one fixed baseline (as in CI) and written to
reports/latest/regression_gate.json.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from soberharness.checker.regression import judge, mann_whitney_greater
from soberharness.clients.postgrest_sql import Request, RequestRunner
from soberharness.report.baseline import LATEST, compare_files
from soberharness.workload.app_queries import home_feed, reference
from soberharness.world.entities import Role, Viewer
from soberharness.world.scale import ScaleSpec, generate_and_load

ROUNDS = 15
REPEATS = 20


# -- synthetic samples --------------------------------------------------------------------------
def _lognormal(seed: int, n: int, median: float, sigma: float = 0.15) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(median * np.exp(rng.normal(0.0, sigma, size=n)))


def _exact_p_greater(x: list[float], y: list[float]) -> float:
    """Exact one-sided p of the rank-sum of x over all splits (no ties), for checking."""
    pooled = sorted(x + y)
    rank = {v: i + 1 for i, v in enumerate(pooled)}
    observed = sum(rank[v] for v in x)
    sums = [sum(c) for c in itertools.combinations(range(1, len(pooled) + 1), len(x))]
    return sum(s >= observed for s in sums) / len(sums)


def test_mann_whitney_matches_the_exact_distribution() -> None:
    x = [1.3, 2.9, 3.4, 4.8, 6.1, 7.7, 8.2]
    y = [0.7, 1.1, 2.2, 2.5, 3.9, 5.0]
    assert abs(mann_whitney_greater(x, y) - _exact_p_greater(x, y)) < 0.02
    assert abs(mann_whitney_greater(y, x) - _exact_p_greater(y, x)) < 0.02
    assert mann_whitney_greater([5, 6, 7, 8, 9], [1, 2, 3, 4, 5]) < 0.01  # ties handled
    assert mann_whitney_greater([1, 1, 1], [1, 1, 1]) == 1.0  # all tied: no evidence


def test_clearly_slower_is_a_regression() -> None:
    verdict = judge("q", _lognormal(1, 30, 1e-3), _lognormal(2, 30, 1.5e-3))
    assert verdict.regression, verdict.line()
    assert verdict.ci[0] > 1.2, verdict.line()


def test_same_distribution_is_not() -> None:
    verdicts = [judge("q", _lognormal(s, 30, 1e-3), _lognormal(s + 1000, 30, 1e-3))
                for s in range(50)]
    assert not any(v.regression for v in verdicts)


def test_tiny_shift_is_not_even_when_significant() -> None:
    verdict = judge("q", _lognormal(3, 400, 1e-3), _lognormal(4, 400, 1.08e-3))
    assert verdict.p_slower < 0.01, verdict.line()  # the rank test sees it...
    assert not verdict.regression, verdict.line()  # ...but 8% is below the minimum effect


def test_noisy_moderate_shift_is_not() -> None:
    # A busy-neighbour run: x1.25 median but wide spread; the interval reaches below +20%.
    verdict = judge("q", _lognormal(9, 30, 1e-3, sigma=0.4), _lognormal(10, 30, 1.25e-3, 0.4))
    assert verdict.ci[0] < 1.2 and not verdict.regression, verdict.line()


def test_machine_slowdown_cancels_out_with_references() -> None:
    # The whole machine is 1.8x slower during the run: query and reference rounds alike.
    base, base_ref = _lognormal(11, 30, 40e-3), _lognormal(12, 30, 5e-3)
    cur, cur_ref = _lognormal(13, 30, 72e-3), _lognormal(14, 30, 9e-3)
    assert judge("q", base, cur).regression  # raw: looks slower
    verdict = judge("q", base, cur, baseline_ref=base_ref, current_ref=cur_ref)
    assert verdict.normalized and not verdict.regression, verdict.line()
    # ...while a query that got slower on a steady machine still is.
    slower = judge("q", base, _lognormal(15, 30, 80e-3), baseline_ref=base_ref,
                   current_ref=_lognormal(16, 30, 5e-3))
    assert slower.regression, slower.line()


def test_one_slow_outlier_round_is_not() -> None:
    current = _lognormal(6, 30, 1e-3)
    current[3] = 50e-3
    assert not judge("q", _lognormal(5, 30, 1e-3), current).regression


def test_faster_is_an_improvement_not_a_regression() -> None:
    verdict = judge("q", _lognormal(7, 30, 2e-3), _lognormal(8, 30, 1e-3))
    assert verdict.improvement and not verdict.regression


# -- the real feed ------------------------------------------------------------------------------
class FeedProbe:
    def __init__(self, conn: psycopg.Connection, viewer: Viewer, request: Request) -> None:
        self.conn = conn
        self.runner = RequestRunner(conn)
        self.viewer = viewer
        self.request = request

    def sample(self, rounds: int = ROUNDS, warmup: int = 2) -> tuple[list[float], list[float]]:
        """Rounds of the feed, each preceded by a round of the machine reference."""
        times: list[float] = []
        refs: list[float] = []
        ref = reference().request
        for i in range(warmup + rounds):
            began = time.perf_counter()
            self.runner.run(Viewer.anon(), ref)
            middle = time.perf_counter()
            outcome = self.runner.run(self.viewer, self.request)
            end = time.perf_counter()
            assert outcome.ok and outcome.rows[0][1] == 20, outcome.error or "feed not full"
            if i >= warmup:
                refs.append(middle - began)
                times.append(end - middle)
        return times, refs


@pytest.fixture(scope="module")
def feed(module_scratch_database: str) -> Iterator[FeedProbe]:
    dsn = module_scratch_database
    _, probes = generate_and_load(dsn, ScaleSpec(users=1000, posts=6000, seed=7))
    with psycopg.connect(dsn, autocommit=True) as conn:
        viewer = Viewer(Role.AUTHENTICATED, uuid.UUID(probes.feed_user))
        yield FeedProbe(conn, viewer, home_feed(probes.feed_user).request)


def _benchmark_json(path: Path, name: str, sample: tuple[list[float], list[float]]) -> Path:
    """The part of pytest-benchmark's JSON the gate reads (rounds and reference rounds)."""
    rounds, refs = sample
    path.write_text(json.dumps({"benchmarks": [{
        "name": name, "extra_info": {"scale": "gate", "reference_rounds": refs},
        "stats": {"data": rounds, "iterations": 1}}]}))
    return path


def test_unchanged_stack_is_not_a_regression_and_false_alarms_are_rare(
        feed: FeedProbe, tmp_path: Path) -> None:
    baseline = _benchmark_json(tmp_path / "baseline.json", "feed", feed.sample())
    alarms = []
    medians = []
    for i in range(REPEATS):
        run = _benchmark_json(tmp_path / f"run{i}.json", "feed", feed.sample())
        result = compare_files(baseline, run)
        assert not result.problems, result.problems
        assert result.verdicts[0].normalized
        medians.append(result.verdicts[0].ratio)
        alarms += [v.line() for v in result.regressions]
    rate = len(alarms) / REPEATS
    LATEST.mkdir(parents=True, exist_ok=True)
    (LATEST / "regression_gate.json").write_text(json.dumps({
        "query": "home_feed", "rounds": ROUNDS, "repeats": REPEATS,
        "false_alarms": len(alarms), "false_alarm_rate": rate,
        "median_ratios": [round(r, 3) for r in medians]}, indent=2))
    print(f"false-alarm rate {len(alarms)}/{REPEATS}; median ratios "
          f"{min(medians):.2f}-{max(medians):.2f}")
    assert rate <= 0.1, f"{len(alarms)} false alarms in {REPEATS}: {alarms}"


def test_dropping_the_feed_index_is_a_regression(feed: FeedProbe, tmp_path: Path) -> None:
    definition = feed.conn.execute(
        "select pg_get_indexdef('public.posts_author_created_idx'::regclass)").fetchone()
    assert definition is not None
    baseline = _benchmark_json(tmp_path / "baseline.json", "feed", feed.sample())
    feed.conn.execute("drop index public.posts_author_created_idx")
    try:
        slower = _benchmark_json(tmp_path / "run.json", "feed", feed.sample())
    finally:
        feed.conn.execute(definition[0])
    result = compare_files(baseline, slower)
    assert [v.name for v in result.regressions] == ["feed"], [v.line() for v in result.verdicts]
    print(result.regressions[0].line())


# -- the command ---------------------------------------------------------------------------------
def _pair(seed: int, median: float) -> tuple[list[float], list[float]]:
    return _lognormal(seed, 30, median), _lognormal(seed + 500, 30, 5e-3)


def test_compare_command_exit_codes(tmp_path: Path) -> None:
    from soberharness.report.baseline import main

    baseline = _benchmark_json(tmp_path / "base.json", "feed", _pair(1, 40e-3))
    same = _benchmark_json(tmp_path / "same.json", "feed", _pair(2, 40e-3))
    slower = _benchmark_json(tmp_path / "slow.json", "feed", _pair(3, 90e-3))
    out = tmp_path / "regression.json"
    common = ["--baseline", str(baseline), "--out", str(out)]
    assert main(["compare", "--run", str(same), *common]) == 0
    assert main(["compare", "--run", str(slower), *common]) == 1
    assert json.loads(out.read_text())["regressions"] == ["feed"]
    # Nothing comparable (other data scale), a missing baseline, rounds not saved: exit 2.
    other = tmp_path / "other.json"
    other.write_text(same.read_text().replace('"gate"', '"users=1 posts=1 seed=1"'))
    assert main(["compare", "--run", str(other), *common]) == 2
    assert main(["compare", "--run", str(same), "--baseline", str(tmp_path / "none.json"),
                 "--out", str(out)]) == 2
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"benchmarks": [{"name": "feed", "stats": {"median": 1.0}}]}))
    assert main(["compare", "--run", str(bare), *common]) == 2
