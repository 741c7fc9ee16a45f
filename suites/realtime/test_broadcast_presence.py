"""Broadcast and presence on public channels, and private channels refused (SoberTube uses
none: docs/access-decisions.md, entry 16)."""

from __future__ import annotations

import asyncio

import pytest

from soberharness.workload import realtime_fanout as rf
from soberharness.workload import realtime_rooms as rooms
from soberharness.world.entities import Viewer
from soberharness.world.matrix_world import MatrixWorld

pytestmark = [pytest.mark.needs("realtime", "postgres")]
TRIO = ("follower", "stranger", "moderator")


def test_broadcast_reaches_members_self_only_when_asked_and_acks(
        endpoint: rf.RealtimeEndpoint, rt_world: MatrixWorld) -> None:
    members = {n: Viewer.of(rt_world.users[n]) for n in TRIO}
    assert asyncio.run(rooms.broadcast_round(endpoint, members,
                                             f"sober-{rt_world.run_id}-room")) == []


def test_presence_join_leave_and_sync_converge(
        endpoint: rf.RealtimeEndpoint, rt_world: MatrixWorld) -> None:
    members = {n: Viewer.of(rt_world.users[n]) for n in TRIO}
    assert asyncio.run(rooms.presence_round(endpoint, members,
                                            f"sober-{rt_world.run_id}-lobby")) == []


def test_private_channels_are_refused(endpoint: rf.RealtimeEndpoint,
                                      rt_world: MatrixWorld) -> None:
    """No policy on realtime.messages: Realtime Authorization refuses every private join."""
    for actor in ("follower", "moderator"):
        reason = asyncio.run(rooms.private_join(endpoint, Viewer.of(rt_world.users[actor]),
                                                f"sober-{rt_world.run_id}-private"))
        assert reason is not None, f"{actor} joined a private channel"
