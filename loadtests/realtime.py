"""Fan-out load on Supabase Realtime: subscribers hold a websocket each and join a channel for
`postgres_changes` INSERTs on public.posts with their own JWT; writers (`--writers`, default
1) insert posts through REST. What each subscriber received is judged at the end by the same
delivery checker as suites/realtime (lost, duplicate, leak, reordered), its summary written
under "delivery" in the JSON summary; any finding fails the run.

Measured (locust request stats of type WS): socket connect, join (phx_join → phx_reply),
listener ready (the `system` event), heartbeat round trip, fan-out latency from the poster's
send (this machine's clock) and from the commit timestamp Realtime carries.

    SOBER_LOAD_JWT_SECRET=… SOBER_LOAD_ANON_KEY=… [SOBER_LOAD_SERVICE_KEY=…] \\
    .venv/bin/locust -f loadtests/realtime.py --headless -u 200 -r 50 -t 60s \\
        --host https://api.example/rest/v1 --realtime-url wss://api.example/realtime/v1 \\
        [--writers 4 --post-interval 1 --realtime-vsn 2.0.0 --drain 5]

Distributed: the same with `--master --expect-workers N` on one side and
`--worker --master-host …` (same -f) on N others; workers send what they saw to the master
every second and the master judges. The protocol is soberharness.clients.realtime, moved by
the blocking transport soberharness.clients.realtime_sync (gevent-friendly).
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import gevent
from locust import HttpUser, User, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from soberharness.checker.load_thresholds import Thresholds
from soberharness.checker.realtime_delivery import violations
from soberharness.clients import realtime as rp
from soberharness.errors import HarnessError
from soberharness.services import realtime
from soberharness.workload import rest_load as rl
from soberharness.workload.fanout_collector import FanoutCollector
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
BATCH = "sober_realtime_batch"
JOIN_TIMEOUT_S = 10.0
COLLECTOR = FanoutCollector()
STOPPING_AT: list[float] = []  # when the master (or single process) began to stop


@events.test_stopping.add_listener
def _stopping(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner) and not STOPPING_AT:
        STOPPING_AT.append(time.time())


def _judge(environment: Environment) -> tuple[str, dict[str, Any], list[str]]:
    """Posts sent more than --drain seconds before the run began to stop must have arrived
    (workers' last batches leave them at most a second before that)."""
    opts = environment.parsed_options
    end = STOPPING_AT[0] if STOPPING_AT else time.time()
    report = COLLECTOR.judge(end, float(opts.drain))
    return "delivery", report.summary(), violations(report, int(opts.max_lost))


CONFIG = register(
    "realtime",
    required=(JOIN, FANOUT_SEND),
    defaults=Thresholds(max_error_rate=0.01, max_p95_ms=2000.0, max_p99_ms=5000.0),
    judge=_judge,
)


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser
    group.add_argument("--realtime-url", default="", include_in_web_ui=False,
                       help="Realtime base URL (ws/wss/http/https), e.g. …/realtime/v1")
    group.add_argument("--realtime-vsn", default=rp.VSN_1, choices=[rp.VSN_1, rp.VSN_2],
                       include_in_web_ui=False, help="Phoenix serializer version")
    group.add_argument("--channel", default="public:posts", include_in_web_ui=False,
                       help="channel the subscribers join")
    group.add_argument("--heartbeat-interval", type=float, default=rp.HEARTBEAT_INTERVAL_S,
                       include_in_web_ui=False, help="seconds between heartbeats")
    group.add_argument("--writers", type=int, default=1, include_in_web_ui=False,
                       help="users that insert posts (the rest subscribe)")
    group.add_argument("--post-interval", type=float, default=2.0, include_in_web_ui=False,
                       help="seconds between one writer's posts")
    group.add_argument("--drain", type=float, default=3.0, include_in_web_ui=False,
                       help="posts sent in the run's last seconds are not required to arrive")
    group.add_argument("--max-lost", type=int, default=0, include_in_web_ui=False,
                       help="lost deliveries tolerated before the run fails")


def _send_batches(environment: Environment) -> None:
    while True:
        gevent.sleep(1.0)
        batch = COLLECTOR.take_batch()
        if batch["changes"] or batch["subscribers"]:
            environment.runner.send_message(BATCH, batch)  # type: ignore[union-attr]


@events.init.add_listener
def _check(environment: Environment, **_: Any) -> None:
    opts = environment.parsed_options
    if opts is None:
        return
    if not opts.realtime_url and not isinstance(environment.runner, MasterRunner):
        print("loadtests: --realtime-url is required", flush=True)
        raise SystemExit(2)
    RealtimeWriter.fixed_count = max(0, opts.writers)
    CONFIG.meta.update(vsn=opts.realtime_vsn, channel=rp.channel_topic(opts.channel),
                       heartbeat_interval_s=opts.heartbeat_interval, run_id=RUN_ID,
                       writers=opts.writers)
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(BATCH, lambda msg, **kw: COLLECTOR.merge(msg.data))
    elif isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_send_batches, environment)


class RealtimeWriter(HttpUser):
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
        post_id = str(uuid.uuid4())
        sent = time.time()
        body = rl.post_body(self.me, f"realtime load {rp.fanout_marker(RUN_ID, sent)}")
        with self.client.post("/posts", json=body | {"id": post_id}, headers=self.headers,
                              name=POST, catch_response=True) as response:
            if response.status_code == 201:
                response.success()
                COLLECTOR.change(post_id, self.me.id, sent, time.time())
            else:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:120]}")


class RealtimeSubscriber(User):
    """One websocket, one channel; the reader reports every frame as it arrives."""

    weight = 10

    def wait_time(self) -> float:
        return min(1.0, float(CONFIG.options.heartbeat_interval) / 4)

    def on_start(self) -> None:
        opts = CONFIG.options
        worker = getattr(self.environment.runner, "worker_index", 0)
        self.name = f"{RUN_ID}-w{worker}-{uuid.uuid4().hex[:10]}"
        token = rl.user_token(CONFIG.users().pick(random.Random()), CONFIG.jwt_secret)
        started = time.perf_counter()
        try:
            self.client = realtime.sync_client(opts.realtime_url, CONFIG.anon_key,
                                               opts.realtime_vsn,
                                               heartbeat_interval_s=opts.heartbeat_interval,
                                               on_incoming=self._on_incoming)
        except HarnessError as exc:
            fire(self.environment, WS, CONNECT, started, error=exc)
            raise StopUser() from None
        fire(self.environment, WS, CONNECT, started)
        channel = self.client.join(opts.channel, token, [rp.ChangeFilter("posts", event="INSERT")],
                                   timeout_s=JOIN_TIMEOUT_S)
        if channel.state == rp.ChannelState.JOINING:
            fire(self.environment, WS, JOIN, 0.0, error=TimeoutError("no phx_reply"),
                 elapsed_ms=JOIN_TIMEOUT_S * 1000)
            raise StopUser()

    def on_stop(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    @task
    def keep_alive(self) -> None:
        for _ in self.client.tick():
            fire(self.environment, WS, HEARTBEAT, 0.0, error=TimeoutError("no heartbeat reply"),
                 elapsed_ms=0.0)

    def _on_incoming(self, incoming: rp.Incoming, size: int) -> None:
        env, channel = self.environment, incoming.channel
        if incoming.kind == "join" and channel is not None:
            error = None if incoming.ok else RuntimeError(f"join refused: {channel.reason}")
            fire(env, WS, JOIN, 0.0, size, error, (incoming.rtt_s or 0.0) * 1000)
        elif incoming.kind == "heartbeat" and incoming.rtt_s is not None:
            error = None if incoming.ok else RuntimeError("heartbeat refused")
            fire(env, WS, HEARTBEAT, 0.0, size, error, incoming.rtt_s * 1000)
        elif incoming.kind == "system" and channel is not None and channel.ready_at is not None:
            if not any(n.extension == rp.POSTGRES_CHANGES for n in channel.system[:-1]):
                COLLECTOR.ready(self.name, channel.ready_at)
                fire(env, WS, READY, 0.0, size, None,
                     (time.monotonic() - channel.join_sent_at) * 1000)
        elif incoming.kind in ("close", "error") and not self.client.closing:
            fire(env, WS, "channel", 0.0, size, RuntimeError(incoming.message.event), 0.0)
        elif incoming.kind == "change" and channel is not None:
            received = channel.changes[-1]
            COLLECTOR.event(self.name, received.event, received.received_at)
            latency = rp.fanout_latency(received.event, received.received_at)
            if latency.send_ms is not None:
                fire(env, WS, FANOUT_SEND, 0.0, size, None, latency.send_ms)
            if latency.commit_ms is not None:
                fire(env, WS, FANOUT_COMMIT, 0.0, size, None, latency.commit_ms)
