"""Realtime: postgres_changes, broadcast and presence over a Phoenix websocket
(soberharness.clients.realtime's protocol; `connect` for asyncio code, `sync_client` for
threads and locust)."""

from __future__ import annotations

from collections.abc import Callable

from soberharness.clients import realtime as rp
from soberharness.clients.realtime_async import AsyncRealtimeClient
from soberharness.clients.realtime_sync import SyncRealtimeClient
from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("realtime", "Realtime", compose=("realtime", "gateway"),
                     gateway_path="/realtime/v1", health_path="/websocket")


async def connect(url: str, api_key: str, vsn: rp.Vsn = rp.VSN_1, *,
                  heartbeat_interval_s: float = rp.HEARTBEAT_INTERVAL_S) -> AsyncRealtimeClient:
    """An open websocket to Realtime at `url` (the target's realtime root), for asyncio."""
    return await AsyncRealtimeClient.connect(url, api_key, vsn,
                                             heartbeat_interval_s=heartbeat_interval_s)


def sync_client(url: str, api_key: str, vsn: rp.Vsn = rp.VSN_1, *,
                heartbeat_interval_s: float = rp.HEARTBEAT_INTERVAL_S,
                on_incoming: Callable[[rp.Incoming, int], None] | None = None,
                ) -> SyncRealtimeClient:
    """An open websocket to Realtime at `url`, read by a thread (`on_incoming` per frame)."""
    return SyncRealtimeClient(url, api_key, vsn, heartbeat_interval_s=heartbeat_interval_s,
                              on_incoming=on_incoming)
