"""Realtime over the blocking `websocket-client`: the transport of the locust user and the
capacity bench.

Only moves frames: the protocol is `soberharness.clients.realtime.RealtimeSession`. The
reader runs in a `threading.Thread`, which is a greenlet once gevent has monkey-patched the
process (as locust does), so the same code serves plain threads and locust's gevent users.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import websocket

from soberharness.clients import realtime as rp
from soberharness.errors import HarnessError

CONNECT_TIMEOUT_S = 10.0
READ_POLL_S = 1.0


class SyncRealtimeClient:
    """One websocket; `on_incoming` is called (in the reader) for every frame received."""

    def __init__(self, base_url: str, apikey: str, vsn: rp.Vsn = rp.VSN_1, *,
                 heartbeat_interval_s: float = rp.HEARTBEAT_INTERVAL_S,
                 on_incoming: Callable[[rp.Incoming, int], None] | None = None,
                 timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.url = rp.socket_url(base_url, apikey, vsn)
        self.session = rp.RealtimeSession(vsn, heartbeat_interval_s, time.monotonic())
        self.on_incoming = on_incoming
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.closing = False
        self.closed_reason = ""
        self.frames = 0
        self.decode = True  # False: count frames only (the capacity bench's reference)
        try:
            self.ws = websocket.create_connection(self.url, timeout=timeout_s,
                                                  enable_multithread=True)
        except (OSError, websocket.WebSocketException) as exc:
            raise HarnessError(f"realtime: cannot open {self.url.split('?')[0]}: "
                               f"{type(exc).__name__}: {exc}") from None
        self.ws.settimeout(READ_POLL_S)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def flush(self) -> None:
        with self.lock:
            frames = self.session.drain()
        for frame in frames:
            self.ws.send(frame)

    def join(self, name: str, access_token: str, changes: Sequence[rp.ChangeFilter] = (),
             *, timeout_s: float = 10.0, **config: Any) -> rp.Channel:
        with self.lock:
            channel = self.session.join(name, access_token, changes, now=time.monotonic(),
                                        **config)
        self.flush()
        self.wait_for(lambda: channel.state != rp.ChannelState.JOINING, timeout_s)
        return channel

    def tick(self) -> list[str]:
        with self.lock:
            late = self.session.tick(time.monotonic())
        self.flush()
        return late

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate() or bool(self.closed_reason),
                                         timeout_s) and predicate()

    def close(self) -> None:
        self.closing = True
        try:
            with self.lock:
                for channel in list(self.session.channels.values()):
                    self.session.leave(channel)
            self.flush()
            self.ws.close(timeout=1)
        except (OSError, websocket.WebSocketException):
            pass
        self.reader.join(timeout=READ_POLL_S * 3)

    def _read(self) -> None:
        while not self.closing:
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException) as exc:
                self._closed(f"{type(exc).__name__}: {exc}")
                return
            if not frame:
                if not self.ws.connected:
                    self._closed("closed by the server")
                    return
                continue
            if not self.decode:
                self.frames += 1
                continue
            try:
                with self.lock:
                    self.frames += 1
                    incoming = self.session.receive(frame, time.time(), time.monotonic())
            except rp.ProtocolError as exc:
                incoming = rp.Incoming("error", None, rp.Message("", "error", {"reason": str(exc)}),
                                       ok=False)
            if self.on_incoming is not None:
                self.on_incoming(incoming, len(frame))
            with self.changed:
                self.changed.notify_all()

    def _closed(self, reason: str) -> None:
        with self.changed:
            self.closed_reason = reason if not self.closing else "closed"
            self.changed.notify_all()
