"""Fixtures of the performance suite: one database filled with generated SoberTube data.

Sizes come from the environment so CI stays small and a person can scale up:
SOBERHARNESS_PERF_USERS (default 5000), SOBERHARNESS_PERF_POSTS (default 50000),
SOBERHARNESS_PERF_SEED (default 1), SOBERHARNESS_PERF_ROUNDS (timed rounds per query, 30).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from soberharness.clients.postgrest_sql import RequestRunner
from soberharness.config.env_values import env_int
from soberharness.db import session as db_session
from soberharness.report import bench_gate
from soberharness.workload import app_queries
from soberharness.world.entities import Role, Viewer
from soberharness.world.scale import LoadReport, Probes, ScaleSpec, generate_and_load


def perf_spec() -> ScaleSpec:
    return ScaleSpec(
        users=env_int("SOBERHARNESS_PERF_USERS", 5000, minimum=1),
        posts=env_int("SOBERHARNESS_PERF_POSTS", 50000),
        seed=env_int("SOBERHARNESS_PERF_SEED", 1),
    )


@pytest.fixture(scope="session")
def perf_scale() -> ScaleSpec:
    return perf_spec()


@pytest.fixture(scope="session")
def perf_rounds() -> int:
    return env_int("SOBERHARNESS_PERF_ROUNDS", 30, minimum=1)


@dataclasses.dataclass
class PerfDatabase:
    dsn: str
    conn: psycopg.Connection
    spec: ScaleSpec
    load: LoadReport
    probes: Probes

    @property
    def runner(self) -> RequestRunner:
        return RequestRunner(self.conn)

    @property
    def viewer(self) -> Viewer:
        return Viewer(Role.AUTHENTICATED, uuid.UUID(self.probes.feed_user))

    @property
    def scale_label(self) -> str:
        s = self.spec
        return f"users={s.users} posts={s.posts} seed={s.seed}"

    def query(self, name: str) -> tuple[app_queries.AppQuery, Viewer]:
        return app_queries.probe_queries(self.probes)[name]


class ReferenceTimer:
    """Times the machine reference (app_queries.reference) as a benchmark's round setup."""

    def __init__(self, runner: RequestRunner) -> None:
        self.runner = runner
        self.request = app_queries.reference().request
        self.rounds: list[float] = []

    def measure(self) -> None:
        began = time.perf_counter()
        outcome = self.runner.run(Viewer.anon(), self.request)
        self.rounds.append(time.perf_counter() - began)
        assert outcome.ok, outcome.error

    def last(self, count: int) -> list[float]:
        return self.rounds[-count:]


@pytest.fixture
def reference(perf_db: PerfDatabase) -> ReferenceTimer:
    return ReferenceTimer(perf_db.runner)


@pytest.fixture(scope="module")
def perf_db(module_scratch_database: str, perf_scale: ScaleSpec) -> Iterator[PerfDatabase]:
    dsn = module_scratch_database
    spec = perf_scale
    report, probes = generate_and_load(dsn, spec)
    with db_session.connect(dsn, autocommit=True) as conn:
        yield PerfDatabase(dsn, conn, spec, report, probes)


GATE_TEST = "test_baseline_gate.py::test_benchmarks_hold_against_the_baseline"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The comparison with a recorded baseline file is opt-in (--baseline-file): figures from
    another run or machine never gate by default (the default gate is test_ab_gate.py, which
    measures both sides in this run). When asked for, it judges the benchmarks this session
    ran, so it runs right after the last test that uses the `benchmark` fixture."""
    gates = [item for item in items if item.nodeid.endswith(GATE_TEST)]
    if not gates:
        return
    if not config.getoption("--baseline-file"):
        items[:] = [item for item in items if item not in gates]
        config.hook.pytest_deselected(items=gates)
        return
    rest = [item for item in items if item not in gates]
    last = max((n for n, item in enumerate(rest)
                if "benchmark" in getattr(item, "fixturenames", ())), default=len(rest) - 1)
    items[:] = rest[:last + 1] + gates + rest[last + 1:]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The same-run gate's verdicts, one line per benchmark, after the test summary."""
    gate = terminalreporter.config.stash.get(bench_gate.AB_GATE_KEY, None)
    if gate is None:
        return
    terminalreporter.write_sep("-", "same-run performance gate")
    terminalreporter.write_line(f"baseline: {gate.baseline}")
    for verdict in gate.comparison.verdicts:
        terminalreporter.write_line(verdict.line())
