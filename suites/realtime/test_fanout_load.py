"""Fan-out under load: N subscribers x M writers (SOBER_RT_SUBSCRIBERS, default 200;
SOBER_RT_WRITERS, default 4; SOBER_RT_POSTS, default 5 each), judged by the same checker;
latency p50/p95/p99 (receive time minus commit time) goes into the run report. Up to 10k
subscribers from one machine by these variables; beyond, `locust -f loadtests/realtime.py`
in distributed mode."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from soberharness.config.env_values import env_int
from soberharness.db import session as db_session
from soberharness.report.run_report import RunReport
from soberharness.targets.base import Service, Target
from soberharness.workload import realtime_fanout as rf
from soberharness.workload import realtime_load as rl
from soberharness.world.matrix_world import MatrixWorld

pytestmark = [pytest.mark.needs("realtime", "postgres"), pytest.mark.destructive]
SHAPE = rl.LoadShape(subscribers=env_int("SOBER_RT_SUBSCRIBERS", 200, minimum=1),
                     writers=env_int("SOBER_RT_WRITERS", 4, minimum=1),
                     posts_each=env_int("SOBER_RT_POSTS", 5, minimum=1))


@pytest.fixture
def writers(target: Target, endpoint: rf.RealtimeEndpoint) -> Iterator[list[object]]:
    made: list[object] = []
    yield made
    for w in made:
        close = getattr(w, "close", None)
        if close is not None:
            close()


def test_fanout_under_load_is_complete_and_leak_free(
        target: Target, endpoint: rf.RealtimeEndpoint, rt_world: MatrixWorld,
        writer: rf.Writer, writers: list[object], run_report: RunReport) -> None:
    def writer_for() -> rf.Writer:
        if Service.REST in target.services:
            new: rf.Writer = rf.RestWriter(target.url(Service.REST), endpoint.apikey,
                                           endpoint.jwt_secret)
        else:
            conn = db_session.connect(target.admin_dsn(), autocommit=True)
            writers.append(conn)
            new = rf.SqlWriter(conn)
        writers.append(new)
        return new

    subscribers = rl.load_subscribers(rt_world, SHAPE.subscribers)
    ledger = rf.FanoutLedger(writer, rt_world.world, subscribers)
    report, took = asyncio.run(rl.fanout_under_load(endpoint, ledger, rt_world, SHAPE,
                                                    writer_for))
    summary = report.summary() | {"shape": vars(SHAPE), "write_seconds": round(took, 3)}
    run_report.notes.setdefault("realtime", {})["load"] = summary
    assert report.passed, "\n".join(str(f) for f in report.findings[:40])
    assert report.delivered == report.expected > 0
