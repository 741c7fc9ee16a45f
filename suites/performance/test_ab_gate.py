"""The default regression gate: the stack under test against the stack at a baseline
revision, both measured in this run on this server.

Two databases on the target's PostgreSQL, one built from `stack/` at the baseline revision
(soberharness.bench.revision: --baseline-ref, SOBERHARNESS_BASELINE_REF, the last tag, the
merge base, else HEAD) and one from the stack under test (--migrations), hold the same
generated data. Each app query is timed on both, rounds interleaved (soberharness.bench.ab),
and judged by soberharness.checker.regression: Mann-Whitney U p < 0.01 and the 95 % bootstrap
interval of the median ratio wholly above +20 %. Each test prints the ratio under test /
baseline; the run page shows both sides' rounds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import psycopg
import pytest

from soberharness.bench import revision
from soberharness.bench.ab import Pair, judge_pair, loaded_pair
from soberharness.clients.postgrest_sql import RequestRunner
from soberharness.errors import HarnessError
from soberharness.report import bench_gate
from soberharness.targets.base import DatabaseProvisioning, Target, lacks
from soberharness.targets.migrations import REPO
from soberharness.workload.app_queries import QUERY_NAMES, TRENDING_REFRESH, probe_queries
from soberharness.world.scale import ScaleSpec

BENCHMARKS = (*QUERY_NAMES, "trending_refresh")


@dataclasses.dataclass
class ABStacks:
    pair: Pair
    label: str  # the baseline revision, for reports
    same_stack: bool  # an A/A run: the baseline revision's stack equals the one under test

    def calls(self, name: str) -> tuple[list[Callable[[], object]], list[Callable[[], object]]]:
        """The benchmark's call on the baseline side and on the side under test (one per
        connection of each side)."""
        if name == "trending_refresh":
            return self.pair.calls(lambda conn: lambda: conn.execute(TRENDING_REFRESH))
        query, viewer = probe_queries(self.pair.probes)[name]

        def make(conn: psycopg.Connection) -> Callable[[], object]:
            runner = RequestRunner(conn)
            return lambda: _answered(name, runner.run(viewer, query.request))

        return self.pair.calls(make)


def _answered(name: str, outcome: object) -> object:
    error = getattr(outcome, "error", None)
    if error:
        raise AssertionError(f"{name}: {error}")
    return outcome


@pytest.fixture(scope="module")
def ab_stacks(request: pytest.FixtureRequest, target: Target, perf_scale: ScaleSpec,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[ABStacks]:
    if not isinstance(target, DatabaseProvisioning):
        pytest.skip(lacks(target, DatabaseProvisioning))
    candidate = (target.bootstrap_dir, target.migrations_dir)
    named = request.config.getoption("--baseline-ref")
    try:
        ref = revision.resolve(REPO, named)
        base = revision.export_stack(REPO, ref.commit, tmp_path_factory.mktemp("baseline"))
        baseline = (base / "bootstrap", base / "migrations")
        where = f"stack/ at {ref.label()}"
    except HarnessError as exc:  # one line: the gate cannot run as asked
        if named or revision.has_history(REPO):
            pytest.fail(f"same-run gate: {exc}", pytrace=False)
        baseline, where = candidate, "the working tree's stack/ (no git history here)"
    same = revision.stack_digest(*baseline) == revision.stack_digest(*candidate)
    label = where + (" = the stack under test (A/A)" if same else "")
    with loaded_pair(target, baseline, candidate, perf_scale) as pair:  # type: ignore[arg-type]
        yield ABStacks(pair, label, same)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_not_slower_than_the_baseline_revision(request: pytest.FixtureRequest,
                                               ab_stacks: ABStacks, perf_rounds: int,
                                               name: str) -> None:
    baseline, candidate = ab_stacks.calls(name)

    def again() -> tuple[list[Callable[[], object]], list[Callable[[], object]]]:
        ab_stacks.pair.renew()  # a regression is measured again on other backends
        return ab_stacks.calls(name)

    verdict, a, b = judge_pair(name, baseline, candidate, perf_rounds, again=again)
    bench_gate.record_ab(request.config, ab_stacks.label, verdict, a, b)
    print(f"{ab_stacks.label}\n{verdict.line()}")
    assert not verdict.regression, (
        f"{name} is slower under test than at the baseline revision ({ab_stacks.label}), "
        f"measured in this run: {verdict.line()}")

