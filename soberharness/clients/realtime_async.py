"""Realtime over asyncio `websockets`: the transport suites/realtime uses.

Only moves frames: the protocol is `soberharness.clients.realtime.RealtimeSession`. A reader
task feeds every frame to the session and wakes waiters; a heartbeat task keeps the socket
alive. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from soberharness.clients import realtime as rp
from soberharness.errors import HarnessError

CONNECT_TIMEOUT_S = 10.0
JOIN_TIMEOUT_S = 10.0


class RealtimeRefused(HarnessError):
    """Realtime answered a join with an error reply."""


class AsyncRealtimeClient:
    """One websocket to Realtime. Use `async with await AsyncRealtimeClient.connect(...)`."""

    def __init__(self, ws: ClientConnection, session: rp.RealtimeSession) -> None:
        self.ws = ws
        self.session = session
        self.changed = asyncio.Condition()
        self.closed_reason = ""
        self.incoming: list[rp.Incoming] = []
        self.errors: list[str] = []  # frames that were not Realtime protocol
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def connect(cls, base_url: str, apikey: str, vsn: rp.Vsn = rp.VSN_1, *,
                      heartbeat_interval_s: float = rp.HEARTBEAT_INTERVAL_S,
                      timeout_s: float = CONNECT_TIMEOUT_S) -> AsyncRealtimeClient:
        url = rp.socket_url(base_url, apikey, vsn)
        try:
            ws = await asyncio.wait_for(connect(url, open_timeout=timeout_s,
                                                max_size=2**24), timeout_s + 1)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise HarnessError(f"realtime: cannot open {url.split('?')[0]}: "
                               f"{type(exc).__name__}: {exc}") from None
        client = cls(ws, rp.RealtimeSession(vsn, heartbeat_interval_s, time.monotonic()))
        client._tasks = [asyncio.create_task(client._read()),
                         asyncio.create_task(client._beat())]
        return client

    async def __aenter__(self) -> AsyncRealtimeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)

    # -- sending ------------------------------------------------------------------------------
    async def flush(self) -> None:
        for frame in self.session.drain():
            await self.ws.send(frame)

    async def join(self, name: str, access_token: str,
                   changes: Sequence[rp.ChangeFilter] = (), *, wait_ready: bool = True,
                   timeout_s: float = JOIN_TIMEOUT_S, **config: Any) -> rp.Channel:
        """Join and wait for the reply (and, with postgres changes, the `system` ok telling
        the listener is attached). Raises RealtimeRefused on an error reply."""
        channel = self.session.join(name, access_token, changes, now=time.monotonic(),
                                    **config)
        await self.flush()
        await self.wait_for(lambda: channel.state != rp.ChannelState.JOINING, timeout_s,
                            f"no reply to the join of {channel.topic}")
        if channel.state != rp.ChannelState.JOINED:
            raise RealtimeRefused(f"join of {channel.topic} refused: {channel.reason}")
        if changes and wait_ready:
            await self.wait_for(lambda: channel.ready_at is not None or not channel.joined,
                                timeout_s, f"postgres_changes of {channel.topic} never ready")
        return channel

    async def push(self, action: Callable[[], Any]) -> Any:
        """Run a session action (broadcast, track, refresh_token, leave) and send it."""
        result = action()
        await self.flush()
        return result

    # -- waiting ------------------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float,
                       what: str = "condition") -> None:
        async def until() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: predicate() or bool(self.closed_reason))
        try:
            await asyncio.wait_for(until(), timeout_s)
        except TimeoutError:
            raise HarnessError(f"realtime: {what} within {timeout_s:.0f}s") from None
        if not predicate():
            raise HarnessError(f"realtime: socket closed ({self.closed_reason}) before {what}")

    async def settle(self, quiet_s: float) -> None:
        """Sleep `quiet_s` (lets late events arrive before judging)."""
        await asyncio.sleep(quiet_s)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                try:
                    incoming = self.session.receive(frame, time.time(), time.monotonic())
                except rp.ProtocolError as exc:  # one bad frame does not end the socket
                    self.errors.append(str(exc))
                    continue
                self.incoming.append(incoming)
                async with self.changed:
                    self.changed.notify_all()
        except ConnectionClosed as exc:
            self.closed_reason = f"closed {exc.rcvd.code if exc.rcvd else ''}".strip()
        finally:
            self.closed_reason = self.closed_reason or "closed"
            async with self.changed:
                self.changed.notify_all()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.session.heartbeats.interval_s / 4))
            self.session.tick(time.monotonic())
            with contextlib.suppress(ConnectionClosed):
                await self.flush()
