"""The regression gate, proven both ways: on synthetic samples and on the real feed query.

Real part, the same-run gate (soberharness.bench.ab): two databases on one server with the
same generated data, the home feed timed on both with rounds interleaved. A stack under test
whose migrations drop the feed's index (posts_author_created_idx) must be called a regression;
the unchanged stack must not, also with two CPU hogs running beside it (the false-alarm rate
over repeated comparisons is written to reports/latest/regression_gate.json).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
import pytest

from soberharness.bench import revision
from soberharness.bench.ab import (
    CONNECTIONS_PER_SIDE,
    WARMUP_ROUNDS,
    Pair,
    judge_pair,
    loaded_pair,
)
from soberharness.checker.regression import judge, mann_whitney_greater
from soberharness.clients.postgrest_sql import RequestRunner
from soberharness.errors import HarnessError
from soberharness.report.baseline import LATEST
from soberharness.targets.base import DatabaseProvisioning, Target, lacks
from soberharness.workload.app_queries import probe_queries
from soberharness.world.scale import ScaleSpec

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


# -- a regression measured twice (soberharness.bench.ab.judge_pair), on timed calls ------------
CALLS = 5  # calls per round, given, so that the first measurement is a known number of calls
FIRST_MEASUREMENT = (WARMUP_ROUNDS + ROUNDS) * CALLS  # calls of each side


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _call(seconds: Callable[[int], float]) -> Callable[[], object]:
    """A call that takes seconds(n) on its n-th run (from 0)."""
    runs = itertools.count()
    return lambda: _spin(seconds(next(runs)))


def _disturbed(n: int) -> float:
    """Three times slower for the first measurement only (one side disturbed for a while)."""
    return 600e-6 if n < FIRST_MEASUREMENT else 200e-6


def test_a_regression_found_once_is_measured_again_and_shown() -> None:
    alone, _, _ = judge_pair("q", _call(lambda n: 200e-6), _call(_disturbed), ROUNDS,
                             confirm=False, calls=CALLS)
    assert alone.regression, alone.line()  # the first measurement alone would fail the gate
    verdict, a, b = judge_pair("q", _call(lambda n: 200e-6), _call(_disturbed), ROUNDS,
                               calls=CALLS)
    assert not verdict.regression, verdict.line()
    assert verdict.unconfirmed.startswith("SLOWER  q: median 0.2"), verdict.unconfirmed
    assert "; measured again, as a first measurement said: SLOWER  q" in verdict.line()
    assert len(a) == len(b) == ROUNDS


def test_the_second_measurement_runs_on_the_sides_again_gives() -> None:
    """`again` (in the performance suite: Pair.renew, new backends) gives the second
    measurement's calls: a side slow on its first backends only is measured again on others."""
    asked: list[int] = []

    def again() -> tuple[Callable[[], object], Callable[[], object]]:
        asked.append(1)
        return _call(lambda n: 200e-6), _call(lambda n: 200e-6)

    verdict, _, _ = judge_pair("q", _call(lambda n: 200e-6), _call(lambda n: 600e-6), ROUNDS,
                               calls=CALLS, again=again)
    assert asked == [1] and not verdict.regression, verdict.line()
    assert verdict.unconfirmed.startswith("SLOWER  q:"), verdict.unconfirmed
    steady, _, _ = judge_pair("q", _call(lambda n: 200e-6), _call(lambda n: 200e-6), ROUNDS,
                              calls=CALLS, again=again)
    assert asked == [1] and not steady.regression  # nothing found: measured once


def test_a_lasting_regression_is_found_twice() -> None:
    verdict, _, _ = judge_pair("q", _call(lambda n: 200e-6), _call(lambda n: 600e-6), ROUNDS,
                               calls=CALLS)
    assert verdict.regression and verdict.unconfirmed == "", verdict.line()
    assert verdict.ratio > 2.5, verdict.line()


def test_one_slow_outlier_round_is_not() -> None:
    current = _lognormal(6, 30, 1e-3)
    current[3] = 50e-3
    assert not judge("q", _lognormal(5, 30, 1e-3), current).regression


def test_faster_is_an_improvement_not_a_regression() -> None:
    verdict = judge("q", _lognormal(7, 30, 2e-3), _lognormal(8, 30, 1e-3))
    assert verdict.improvement and not verdict.regression


# -- the real feed, both sides in one run ---------------------------------------------------------
FEED_SCALE = ScaleSpec(users=1000, posts=6000, seed=7)
HOGS = 2  # busy processes beside the gate: as many as the machine class has cores


@contextmanager
def cpu_hogs(count: int = HOGS) -> Iterator[None]:
    """`count` processes spinning on the CPU for as long as the block runs."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait(timeout=10)


def _feed_calls(pair: Pair) -> tuple[list[Callable[[], object]], list[Callable[[], object]]]:
    query, viewer = probe_queries(pair.probes)["home_feed"]

    def call(conn: psycopg.Connection) -> Callable[[], object]:
        runner = RequestRunner(conn)

        def run() -> object:
            outcome = runner.run(viewer, query.request)
            assert outcome.ok and outcome.rows[0][1] == 20, outcome.error or "feed not full"
            return outcome
        return run

    return pair.calls(call)


def _stack(target: Target) -> tuple[Path, Path]:
    return target.bootstrap_dir, target.migrations_dir  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def same_stack_pair(target: Target) -> Iterator[Pair]:
    if not isinstance(target, DatabaseProvisioning):
        pytest.skip(lacks(target, DatabaseProvisioning))
    with loaded_pair(target, _stack(target), _stack(target), FEED_SCALE) as pair:  # type: ignore[arg-type]
        yield pair


def test_renewing_a_pair_gives_each_side_new_backends(same_stack_pair: Pair) -> None:
    def pids(side: list[psycopg.Connection]) -> list[int]:
        return [c.execute("select pg_backend_pid()").fetchone()[0] for c in side]  # type: ignore[index]

    old = (list(same_stack_pair.baselines), list(same_stack_pair.candidates))
    before = (pids(same_stack_pair.baselines), pids(same_stack_pair.candidates))
    names = [c.execute("select current_database()").fetchone() for c in old[0] + old[1]]
    same_stack_pair.renew()
    after = (pids(same_stack_pair.baselines), pids(same_stack_pair.candidates))
    assert all(c.closed for c in old[0] + old[1])
    assert len(after[0]) == len(after[1]) == CONNECTIONS_PER_SIDE
    assert not set(before[0] + before[1]) & set(after[0] + after[1])
    renewed = [c.execute("select current_database()").fetchone()
               for c in same_stack_pair.baselines + same_stack_pair.candidates]
    assert renewed == names and names[0] != names[-1], names  # each side its own database


def test_unchanged_stack_is_not_a_regression_even_beside_cpu_hogs(
        same_stack_pair: Pair) -> None:
    """A/A on one server with two CPU hogs running: the false-alarm rate of the same-run gate
    over REPEATS comparisons, written to reports/latest/regression_gate.json."""
    baseline, candidate = _feed_calls(same_stack_pair)
    alarms: list[str] = []
    ratios: list[float] = []
    with cpu_hogs():
        for _ in range(REPEATS):
            verdict, _, _ = judge_pair("home_feed", baseline, candidate, ROUNDS)
            ratios.append(verdict.ratio)
            if verdict.regression:
                alarms.append(verdict.line())
    rate = len(alarms) / REPEATS
    LATEST.mkdir(parents=True, exist_ok=True)
    (LATEST / "regression_gate.json").write_text(json.dumps({
        "query": "home_feed", "rounds": ROUNDS, "repeats": REPEATS, "cpu_hogs": HOGS,
        "false_alarms": len(alarms), "false_alarm_rate": rate,
        "median_ratios": [round(r, 3) for r in ratios]}, indent=2))
    print(f"same-run gate beside {HOGS} CPU hogs: false alarms {len(alarms)}/{REPEATS}; "
          f"median ratios {min(ratios):.2f}-{max(ratios):.2f}")
    assert rate <= 0.1, f"{len(alarms)} false alarms in {REPEATS}: {alarms}"


def test_a_migration_dropping_the_feed_index_is_a_regression(target: Target,
                                                             tmp_path: Path) -> None:
    """The stack under test gains a migration that drops the feed's index: the same-run gate,
    with both databases built and loaded as the performance suite builds them, flags it."""
    if not isinstance(target, DatabaseProvisioning):
        pytest.skip(lacks(target, DatabaseProvisioning))
    bootstrap, migrations = _stack(target)
    planted = tmp_path / "migrations"
    shutil.copytree(migrations, planted)
    (planted / "9990_drop_feed_index").mkdir()
    (planted / "9990_drop_feed_index" / "up.sql").write_text(
        "drop index public.posts_author_created_idx;\n")
    with loaded_pair(target, (bootstrap, migrations), (bootstrap, planted),  # type: ignore[arg-type]
                     FEED_SCALE) as pair:
        renewed: list[int] = []

        def again() -> tuple[list[Callable[[], object]], list[Callable[[], object]]]:
            pair.renew()  # as the performance suite measures a regression again
            renewed.append(1)
            return _feed_calls(pair)

        verdict, _, _ = judge_pair("home_feed", *_feed_calls(pair), ROUNDS, again=again)
    print(verdict.line())
    assert verdict.regression and renewed == [1], verdict.line()  # found twice
    assert verdict.unconfirmed == "", verdict.line()


# -- the baseline revision ---------------------------------------------------------------------
def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env={**os.environ, "GIT_AUTHOR_NAME": "t",
                                           "GIT_AUTHOR_EMAIL": "t@example.invalid",
                                           "GIT_COMMITTER_NAME": "t",
                                           "GIT_COMMITTER_EMAIL": "t@example.invalid"})
    return done.stdout.strip()


def _commit_stack(repo: Path, marker: str) -> str:
    for part in ("bootstrap", "migrations/0001_x"):
        (repo / "stack" / part).mkdir(parents=True, exist_ok=True)
    (repo / "stack" / "bootstrap" / "00.sql").write_text("select 1;\n")
    (repo / "stack" / "migrations" / "0001_x" / "up.sql").write_text(f"-- {marker}\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", marker)
    return _git(repo, "rev-parse", "HEAD")


def test_baseline_revision_rules(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    _git(origin, "init", "-q", "-b", "main")
    first = _commit_stack(origin, "first")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    # A clone level with its upstream and no tag: HEAD (an A/A run on a clean tree).
    assert revision.resolve(clone) == revision.BaselineRef("HEAD", first, "last commit")
    # Ahead of the upstream: the merge base.
    second = _commit_stack(clone, "second")
    ref = revision.resolve(clone)
    assert (ref.commit, ref.why) == (first, "merge base"), ref
    # A tag wins over the merge base; a named ref wins over both.
    _git(clone, "tag", "v1", first)
    assert revision.resolve(clone).ref == "v1"
    assert revision.resolve(clone, "HEAD").commit == second
    with pytest.raises(HarnessError, match="'nope' is not a commit"):
        revision.resolve(clone, "nope")
    # The exported stack is that revision's, byte for byte.
    exported = revision.export_stack(clone, first, tmp_path / "export")
    assert (exported / "migrations" / "0001_x" / "up.sql").read_text() == "-- first\n"
    assert revision.stack_digest(exported / "bootstrap", exported / "migrations") != \
        revision.stack_digest(clone / "stack" / "bootstrap", clone / "stack" / "migrations")
    with pytest.raises(HarnessError, match="not a git checkout"):
        revision.resolve(tmp_path / "export")


# -- the command (the opt-in comparison with a recorded baseline file) ---------------------------
def _benchmark_json(path: Path, name: str, sample: tuple[list[float], list[float]]) -> Path:
    """The part of pytest-benchmark's JSON the gate reads (rounds and reference rounds)."""
    rounds, refs = sample
    path.write_text(json.dumps({"benchmarks": [{
        "name": name, "extra_info": {"scale": "gate", "reference_rounds": refs},
        "stats": {"data": rounds, "iterations": 1}}]}))
    return path


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
    # Nothing comparable (other data scale): exit 5; a missing baseline, rounds not saved: bad
    # input, exit 4.
    other = tmp_path / "other.json"
    other.write_text(same.read_text().replace('"gate"', '"users=1 posts=1 seed=1"'))
    assert main(["compare", "--run", str(other), *common]) == 5
    assert main(["compare", "--run", str(same), "--baseline", str(tmp_path / "none.json"),
                 "--out", str(out)]) == 4
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"benchmarks": [{"name": "feed", "stats": {"median": 1.0}}]}))
    assert main(["compare", "--run", str(bare), *common]) == 4


def test_the_default_gate_compares_within_the_run() -> None:
    """The default test command gates on the same-run comparison only: the recorded-baseline
    gate (figures from another machine) is collected only when asked for by --baseline-file."""
    repo = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "pytest", "suites/performance", "--collect-only", "-q",
            "-p", "no:randomly"]
    default = subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=120,
                             check=False)
    assert default.returncode == 0, default.stdout[-2000:] + default.stderr[-2000:]
    assert "test_ab_gate.py::test_not_slower_than_the_baseline_revision[home_feed]" in \
        default.stdout, default.stdout[-2000:]
    assert "test_baseline_gate.py" not in default.stdout, default.stdout[-2000:]
    asked = subprocess.run([*argv, "--baseline-file", "reports/baselines/2cpu/performance.json"],
                           cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    assert "test_baseline_gate.py::test_benchmarks_hold_against_the_baseline" in asked.stdout, \
        asked.stdout[-2000:]
