"""Postgres Changes under RLS: every matrix actor subscribes with its own token to every
published table; the owners, the follower, the stranger and the moderator write; per
subscriber the delivery checker compares what arrived with the access model (no loss, no
duplicate, no leak, per-row order; DELETE as Realtime documents it: primary key only, to every
subscriber of the table)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

from soberharness.checker import realtime_delivery as rd
from soberharness.records.realtime import Change, Subscription
from soberharness.report.run_report import RunReport
from soberharness.workload import realtime_fanout as rf
from soberharness.workload import realtime_plans as plans
from soberharness.world.entities import Post, Privacy, Viewer
from soberharness.world.matrix_world import MatrixWorld

pytestmark = [pytest.mark.needs("realtime", "postgres")]
Plan = Callable[[rf.FanoutLedger, MatrixWorld], None]


def _run(endpoint: rf.RealtimeEndpoint, writer: rf.Writer, mw: MatrixWorld, plan: Plan,
         viewers: Mapping[str, Viewer],
         subscriptions: Mapping[str, tuple[Subscription, ...]] | None = None,
         ) -> rd.DeliveryReport:
    async def go() -> rd.DeliveryReport:
        listeners = await rf.open_listeners(endpoint, viewers, mw.run_id, subscriptions)
        try:
            ledger = rf.FanoutLedger(writer, mw.world, viewers)
            await asyncio.to_thread(plan, ledger, mw)
            return await rf.settle_and_judge(ledger.changes, listeners)
        finally:
            await rf.close_all(listeners)
    return asyncio.run(go())


def _verdict(report: rd.DeliveryReport) -> str:
    return "\n".join(str(f) for f in report.findings[:40])


def test_changes_reach_exactly_whom_the_model_lets_see_them(
        endpoint: rf.RealtimeEndpoint, writer: rf.Writer, rt_world: MatrixWorld,
        run_report: RunReport) -> None:
    report = _run(endpoint, writer, rt_world, plans.content_plan,
                  plans.matrix_subscribers(rt_world))
    run_report.notes.setdefault("realtime", {})["matrix"] = report.summary()
    assert report.passed, _verdict(report)
    assert report.expected > 0 and report.delivered == report.expected


def test_after_a_block_the_blocked_subscriber_stops_receiving(
        endpoint: rf.RealtimeEndpoint, writer: rf.Writer, rt_world: MatrixWorld) -> None:
    viewers = {"follower": Viewer.of(rt_world.users["follower"]),
               "stranger": Viewer.of(rt_world.users["stranger"])}
    report = _run(endpoint, writer, rt_world, plans.block_plan, viewers)
    assert report.passed, _verdict(report)


def test_filters_eq_and_in_narrow_delivery(
        endpoint: rf.RealtimeEndpoint, writer: rf.Writer, rt_world: MatrixWorld) -> None:
    viewers = {n: Viewer.of(rt_world.users[n]) for n in ("stranger", "moderator", "follower")}
    report = _run(endpoint, writer, rt_world, plans.filter_plan, viewers,
                  plans.filter_subscriptions(rt_world))
    assert report.passed, _verdict(report)


def test_a_refreshed_token_keeps_the_subscription(
        endpoint: rf.RealtimeEndpoint, writer: rf.Writer, rt_world: MatrixWorld) -> None:
    follower = Viewer.of(rt_world.users["follower"])
    owner = rt_world.owners[Privacy.PRIVATE]

    def write() -> list[Change]:
        ledger = rf.FanoutLedger(writer, rt_world.world, {"follower": follower})
        ledger.insert(Viewer.of(owner), Post(rt_world.id("rt/refresh"), owner.id))
        return ledger.changes

    problems = asyncio.run(rf.token_refresh_round(
        endpoint, "follower", follower, write, f"sober-{rt_world.run_id}-refresh",
        lifetime_s=8.0))
    assert problems == []
