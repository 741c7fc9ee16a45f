"""Broadcast and presence rounds on one Realtime topic, and a private-channel join.

Each round returns the problems it found, one readable line each (empty: as Realtime
documents). Members are named; every one joins with its own token.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping

from soberharness.clients import realtime as rp
from soberharness.clients.realtime_async import AsyncRealtimeClient, RealtimeRefused
from soberharness.db.claims import token_for
from soberharness.errors import HarnessError
from soberharness.services import realtime
from soberharness.workload.realtime_fanout import RealtimeEndpoint
from soberharness.world.entities import Viewer

WAIT_S = 5.0
QUIET_S = 0.5


async def _until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


class _Member:
    def __init__(self, name: str, client: AsyncRealtimeClient, channel: rp.Channel) -> None:
        self.name, self.client, self.channel = name, client, channel

    def got(self, event: str) -> int:
        return sum(1 for b in self.channel.broadcasts if b.event == event)


async def _join(endpoint: RealtimeEndpoint, name: str, viewer: Viewer, topic: str,
                **config: object) -> _Member:
    client = await realtime.connect(endpoint.url, endpoint.apikey, endpoint.vsn)
    try:
        channel = await client.join(topic, token_for(viewer, endpoint.jwt_secret), **config)
    except BaseException:
        await client.close()
        raise
    return _Member(name, client, channel)


async def broadcast_round(endpoint: RealtimeEndpoint, viewers: Mapping[str, Viewer],
                          topic: str, wait_s: float = WAIT_S) -> list[str]:
    """The first member joins with `self` and `ack`, the others without. The first
    broadcasts 'ping' (everyone gets it, itself included, and it gets an ack); the second
    broadcasts 'pong' (everyone but itself gets it)."""
    names = list(viewers)
    if len(names) < 3:
        raise HarnessError("broadcast round needs three members")
    first, second = names[0], names[1]
    members = [await _join(endpoint, first, viewers[first], topic, broadcast_self=True,
                           broadcast_ack=True)]
    members += [await _join(endpoint, n, viewers[n], topic) for n in names[1:]]
    problems: list[str] = []
    try:
        a, b = members[0], members[1]
        ref = await a.client.push(lambda: a.client.session.broadcast(a.channel, "ping", {"n": 1}))
        if not await _until(lambda: all(m.got("ping") for m in members)
                            and ref in a.channel.acks, wait_s):
            problems += [f"{m.name} did not receive 'ping' from {first}"
                         + (" (config.broadcast.self)" if m is a else "")
                         for m in members if not m.got("ping")]
            if ref not in a.channel.acks:
                problems.append(f"{first} got no ack for its broadcast (config.broadcast.ack)")
        await b.client.push(lambda: b.client.session.broadcast(b.channel, "pong", {"n": 2}))
        others = [m for m in members if m is not b]
        if not await _until(lambda: all(m.got("pong") for m in others), wait_s):
            problems += [f"{m.name} did not receive 'pong' from {second}"
                         for m in others if not m.got("pong")]
        await asyncio.sleep(QUIET_S)
        if b.got("pong"):
            problems.append(f"{second} received its own 'pong' without config.broadcast.self")
        problems += [f"{m.name} received 'ping' {m.got('ping')} times" for m in members
                     if m.got("ping") > 1]
    finally:
        await asyncio.gather(*(m.client.close() for m in members), return_exceptions=True)
    return problems


async def presence_round(endpoint: RealtimeEndpoint, viewers: Mapping[str, Viewer],
                         topic: str, wait_s: float = WAIT_S) -> list[str]:
    """Every member joins with its name as presence key and tracks itself: each must see
    all; then the last leaves: the others must see it gone."""
    members = [await _join(endpoint, n, v, topic, presence_key=n) for n, v in viewers.items()]
    problems: list[str] = []
    try:
        for m in members:
            await m.client.push(lambda m=m: m.client.session.track(  # type: ignore[misc]
                m.channel, {"member": m.name}))
        everyone = frozenset(viewers)
        if not await _until(lambda: all(m.channel.presence.keys() == everyone
                                        for m in members), wait_s):
            problems += [f"presence of {m.name} did not converge to {sorted(everyone)}: "
                         f"{sorted(m.channel.presence.keys())}" for m in members
                         if m.channel.presence.keys() != everyone]
        leaving, staying = members[-1], members[:-1]
        await leaving.client.push(lambda: leaving.client.session.leave(leaving.channel))
        rest = frozenset(m.name for m in staying)
        if not await _until(lambda: all(m.channel.presence.keys() == rest for m in staying),
                            wait_s):
            problems += [f"presence of {m.name} did not converge to {sorted(rest)} after "
                         f"{leaving.name} left: {sorted(m.channel.presence.keys())}"
                         for m in staying if m.channel.presence.keys() != rest]
    finally:
        await asyncio.gather(*(m.client.close() for m in members), return_exceptions=True)
    return problems


async def private_join(endpoint: RealtimeEndpoint, viewer: Viewer, topic: str) -> str | None:
    """Join `topic` as a private channel: the refusal's reason, or None if it was let in."""
    client = await realtime.connect(endpoint.url, endpoint.apikey, endpoint.vsn)
    try:
        with contextlib.suppress(RealtimeRefused):
            await client.join(topic, token_for(viewer, endpoint.jwt_secret), private=True)
            return None
        channel = next(iter(client.session.channels.values()))
        return channel.reason or "refused"
    finally:
        await client.close()
