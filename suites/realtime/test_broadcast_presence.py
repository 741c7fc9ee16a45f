"""Broadcast and presence on public channels; private channels admit only live rooms, to whom
decision 32 of docs/access-decisions.md admits (the policies of migration 0013; every actor
and topic is checked in the database by suites/security/test_channels.py)."""

from __future__ import annotations

import asyncio

import pytest

from soberharness.access.channels import live_topic
from soberharness.workload import realtime_fanout as rf
from soberharness.workload import realtime_rooms as rooms
from soberharness.world.entities import Privacy, Viewer
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
    """No policy admits a topic other than a live room: Realtime refuses the private join."""
    for actor in ("follower", "moderator"):
        reason = asyncio.run(rooms.private_join(endpoint, Viewer.of(rt_world.users[actor]),
                                                f"sober-{rt_world.run_id}-private"))
        assert reason is not None, f"{actor} joined a private channel"


def test_live_room_admits_followers_of_a_private_owner_only(endpoint: rf.RealtimeEndpoint,
                                                            rt_world: MatrixWorld) -> None:
    """live:<O_private>: an accepted follower joins, a stranger is refused (decision 32)."""
    topic = live_topic(rt_world.owners[Privacy.PRIVATE].id)
    joined = {actor: asyncio.run(rooms.private_join(endpoint, Viewer.of(rt_world.users[actor]),
                                                    topic))
              for actor in ("follower", "stranger")}
    assert joined["follower"] is None, f"follower refused: {joined['follower']}"
    assert joined["stranger"] is not None, "a stranger joined a private owner's live room"
