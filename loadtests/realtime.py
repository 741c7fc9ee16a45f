"""Load on Supabase Realtime: subscribers hold a websocket each, join `realtime:public:posts`
for `postgres_changes` with their own JWT and heartbeat; one poster inserts posts through REST.
Measured (as locust request stats of type WS): socket connect, join (phx_join → phx_reply),
listener ready (the `system` event), heartbeat round trip, and fan-out latency per received
change: from the poster's send (this machine's clock) and from the commit timestamp.

    SOBER_LOAD_JWT_SECRET=… SOBER_LOAD_ANON_KEY=… [SOBER_LOAD_SERVICE_KEY=…] \\
    .venv/bin/locust -f loadtests/realtime.py --headless -u 20 -r 5 -t 30s \\
        --host https://api.example/rest/v1 --realtime-url wss://api.example/realtime/v1 \\
        [--realtime-vsn 1.0.0|2.0.0 --heartbeat-interval 25 --post-interval 2]

The host is the PostgREST base (the poster writes there); --realtime-url is the Realtime base
(`/websocket` is added). Exit code and summary (reports/load/realtime.json) as in rest.py.
Protocol logic lives in soberharness.clients.realtime. The socket is the sync
`websocket-client` (gevent-friendly); asyncio clients do not run inside locust users.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import gevent
import gevent.event
import websocket
from locust import HttpUser, User, events, task
from locust.exception import StopUser

from soberharness.clients import realtime as rp
from soberharness.workload import rest_load as rl
from soberharness.workload.load_thresholds import Thresholds
from soberharness.workload.locust_support import fire, register

RUN_ID = uuid.uuid4().hex[:12]
WS = "WS"
CONNECT = "websocket connect"
JOIN = "phx_join"
READY = "postgres_changes ready"
HEARTBEAT = "heartbeat"
FANOUT_SEND = "fan-out from send"
FANOUT_COMMIT = "fan-out from commit"
POST = "/posts (fan-out source)"
CONNECT_TIMEOUT_S = 10.0
JOIN_TIMEOUT_S = 10.0
READ_POLL_S = 1.0

CONFIG = register(
    "realtime",
    required=(JOIN, FANOUT_SEND),
    defaults=Thresholds(max_error_rate=0.01, max_p95_ms=2000.0, max_p99_ms=5000.0),
)


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--realtime-url", default="", include_in_web_ui=False,
                       help="Realtime base URL (ws/wss/http/https), e.g. …/realtime/v1")
    parser.add_argument("--realtime-vsn", default=rp.VSN_1, choices=[rp.VSN_1, rp.VSN_2],
                       include_in_web_ui=False)
    parser.add_argument("--channel", default="public:posts", include_in_web_ui=False)
    parser.add_argument("--heartbeat-interval", type=float, default=rp.HEARTBEAT_INTERVAL_S,
                       include_in_web_ui=False)
    parser.add_argument("--post-interval", type=float, default=2.0, include_in_web_ui=False)


@events.init.add_listener
def _check(environment: Any, **_: Any) -> None:
    opts = environment.parsed_options
    if opts is not None:
        if not opts.realtime_url:
            print("loadtests: --realtime-url is required", flush=True)
            raise SystemExit(2)
        CONFIG.meta.update(vsn=opts.realtime_vsn, channel=rp.channel_topic(opts.channel),
                           heartbeat_interval_s=opts.heartbeat_interval, run_id=RUN_ID)


class RealtimePoster(HttpUser):
    """Inserts marked posts through REST; every subscriber should see each one."""

    fixed_count = 1

    def wait_time(self) -> float:
        return float(CONFIG.options.post_interval)

    def on_start(self) -> None:
        self.me = CONFIG.users().pick(random.Random())
        token = rl.user_token(self.me, CONFIG.jwt_secret)
        self.headers = rl.write_headers(rl.rest_headers(CONFIG.anon_key, token))

    @task
    def post(self) -> None:
        body = rl.post_body(self.me, f"realtime load {rp.fanout_marker(RUN_ID, time.time())}")
        with self.client.post("/posts", json=body, headers=self.headers, name=POST,
                              catch_response=True) as response:
            if response.status_code == 201:
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:120]}")


class RealtimeSubscriber(User):
    """One websocket, one channel; heartbeats from the task loop, frames read by a greenlet."""

    weight = 10

    def wait_time(self) -> float:
        return min(1.0, float(CONFIG.options.heartbeat_interval) / 4)

    def on_start(self) -> None:
        opts = CONFIG.options
        self.vsn: rp.Vsn = opts.realtime_vsn
        self.closing = False
        self.refs = rp.refs()
        self.joined = gevent.event.Event()
        me = CONFIG.users().pick(random.Random())
        token = rl.user_token(me, CONFIG.jwt_secret)
        url = rp.socket_url(opts.realtime_url, CONFIG.anon_key, self.vsn)
        started = time.perf_counter()
        try:
            self.ws = websocket.create_connection(url, timeout=CONNECT_TIMEOUT_S)
        except (OSError, websocket.WebSocketException) as exc:
            fire(self.environment, WS, CONNECT, started, error=exc)
            raise StopUser() from None
        fire(self.environment, WS, CONNECT, started)
        self.ws.settimeout(READ_POLL_S)
        self.heartbeats = rp.HeartbeatSchedule(opts.heartbeat_interval, time.monotonic())
        self.reader = gevent.spawn(self._read_loop)
        payload = rp.join_payload([rp.ChangeFilter("posts", event="INSERT")], token)
        self.join_ref = next(self.refs)
        self.join_sent = time.monotonic()
        self._send(rp.join_message(opts.channel, payload, self.join_ref))
        if not self.joined.wait(JOIN_TIMEOUT_S):
            fire(self.environment, WS, JOIN, 0.0, error=TimeoutError("no phx_reply"),
                 elapsed_ms=JOIN_TIMEOUT_S * 1000)
            raise StopUser()

    def on_stop(self) -> None:
        self.closing = True
        ws = getattr(self, "ws", None)
        if ws is None:
            return
        try:
            if self.joined.is_set():
                self._send(rp.leave_message(CONFIG.options.channel, next(self.refs),
                                            self.join_ref))
            ws.close(timeout=1)
        except (OSError, websocket.WebSocketException):
            pass
        reader = getattr(self, "reader", None)
        if reader is not None:
            reader.kill(block=False)

    @task
    def keep_alive(self) -> None:
        now = time.monotonic()
        for _ in self.heartbeats.overdue(now, timeout_s=max(10.0, self.heartbeats.interval_s)):
            fire(self.environment, WS, HEARTBEAT, 0.0, error=TimeoutError("no heartbeat reply"),
                 elapsed_ms=0.0)
        if self.heartbeats.due(now):
            ref = next(self.refs)
            self.heartbeats.sent(ref, now)
            self._send(rp.heartbeat_message(ref))

    # -- plumbing -----------------------------------------------------------------------------
    def _send(self, message: rp.Message) -> None:
        self.ws.send(rp.encode(message, self.vsn))

    def _read_loop(self) -> None:
        while not self.closing:
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException) as exc:
                if not self.closing:
                    fire(self.environment, WS, "socket", 0.0, error=exc, elapsed_ms=0.0)
                return
            if not frame:
                continue
            try:
                self._handle(rp.decode(frame, self.vsn), time.time(), time.monotonic(),
                             len(frame))
            except rp.ProtocolError as exc:
                fire(self.environment, WS, "frame", 0.0, error=exc, elapsed_ms=0.0)

    def _handle(self, message: rp.Message, wall: float, mono: float, size: int) -> None:
        env = self.environment
        reply = rp.as_reply(message)
        if reply is not None:
            if reply.ref == self.join_ref:
                error = None if reply.ok else RuntimeError(f"join refused: {reply.response}")
                fire(env, WS, JOIN, 0.0, size, error, (mono - self.join_sent) * 1000)
                self.joined.set()
            else:
                rtt = self.heartbeats.replied(reply.ref, mono)
                if rtt is not None:
                    error = None if reply.ok else RuntimeError(f"heartbeat: {reply.status}")
                    fire(env, WS, HEARTBEAT, 0.0, size, error, rtt * 1000)
            return
        if message.event in (rp.PHX_ERROR, rp.PHX_CLOSE) and not self.closing:
            fire(env, WS, "channel", 0.0, size, RuntimeError(message.event), 0.0)
            return
        if rp.is_changes_ready(message):
            fire(env, WS, READY, 0.0, size, None, (mono - self.join_sent) * 1000)
            return
        event = rp.change_event(message)
        if event is None or event.table != "posts":
            return
        latency = rp.fanout_latency(event, wall)
        if latency.send_ms is not None:
            fire(env, WS, FANOUT_SEND, 0.0, size, None, latency.send_ms)
        if latency.commit_ms is not None:
            fire(env, WS, FANOUT_COMMIT, 0.0, size, None, latency.commit_ms)
