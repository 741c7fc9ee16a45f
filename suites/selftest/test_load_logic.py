"""The load tests' own logic: task mixes, thresholds, summary export, the Realtime protocol
client pieces, and the two locust files run end to end (as subprocesses) against small
protocol doubles on 127.0.0.1.

`PostgrestProtocolDouble` and `RealtimeProtocolDouble` are test doubles of the wire protocols
only: they check what the harness's clients send and answer in the shape the real services
use. They test the harness's client code; PostgREST and Realtime themselves are exercised by
suites/load on targets that run them (containers, remote).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import http.server
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from soberharness.checker import load_thresholds as lt
from soberharness.clients import realtime as rp
from soberharness.db import session as db_session
from soberharness.db.seed import leftovers, remove_world, write_world
from soberharness.errors import HarnessError
from soberharness.testing.realtime_protocol_double import Faults, RealtimeProtocolDouble
from soberharness.workload import rest_load as rl
from soberharness.workload.locust_run import (
    LOADTESTS,
    LocustResult,
    run_locust,
    run_locust_distributed,
)
from soberharness.world.entities import Follow, FollowStatus, User, World

SECRET = "selftest-load-jwt-secret-0123456789abcdef"
ANON_KEY = jwt.encode({"role": "anon", "iss": "soberharness"}, SECRET, algorithm="HS256")
SERVICE_KEY = jwt.encode({"role": "service_role", "iss": "soberharness"}, SECRET,
                         algorithm="HS256")
USERS = [(str(uuid.UUID(int=i + 1)), f"user{i}") for i in range(6)]
POSTS = [
    {"id": str(uuid.UUID(int=1000 + i)), "author_id": USERS[i % 6][0], "body": f"post {i}",
     "created_at": f"2026-01-0{1 + i % 9}T00:00:00+00:00"}
    for i in range(10)
]


# == pure logic ================================================================================
def test_user_classes_have_their_weights_and_task_mixes() -> None:
    assert rl.class_shares() == {"lurker": 0.6, "poster": 0.1, "commenter": 0.3}
    for mix in rl.USER_CLASSES:
        assert sum(mix.shares().values()) == pytest.approx(1.0)
        assert all(w > 0 for w in mix.tasks.values())
    lurker = rl.LURKER.shares()
    assert max(lurker, key=lurker.__getitem__) is rl.Action.FEED
    assert lurker[rl.Action.FEED] + lurker[rl.Action.PROFILE] > 0.9
    assert rl.LURKER.writes == {rl.Action.LIKE}
    posting = [m.name for m in rl.USER_CLASSES if rl.Action.POST in m.writes]
    commenting = [m.name for m in rl.USER_CLASSES if rl.Action.COMMENT in m.writes]
    assert posting == ["poster"] and commenting == ["commenter"]
    assert set(rl.ENDPOINT) == set(rl.Action)


def test_rest_requests_use_postgrest_syntax() -> None:
    params = rl.feed_params(["a", "b"])
    assert params == {"select": "id,author_id,body,created_at", "order": "created_at.desc",
                      "limit": "20", "author_id": "in.(a,b)"}
    assert "author_id" not in rl.feed_params([])
    profile = rl.profile_params("sam")
    assert profile["handle"] == "eq.sam" and profile["posts.order"] == "created_at.desc"
    assert "posts(" in profile["select"]
    me = rl.LoadUser(USERS[0][0], USERS[0][1])
    query, body = rl.like_request(me, "p1")
    assert query == {"on_conflict": "user_id,post_id"} and body == {"user_id": me.id,
                                                                     "post_id": "p1"}
    headers = rl.write_headers(rl.rest_headers("anon", "tok"), rl.LIKE_PREFER)
    assert headers["apikey"] == "anon" and headers["Authorization"] == "Bearer tok"
    assert headers["Prefer"] == "return=minimal,resolution=ignore-duplicates"
    claims = jwt.decode(rl.user_token(me, SECRET), SECRET, algorithms=["HS256"],
                        audience="authenticated")
    assert claims["sub"] == me.id and claims["role"] == "authenticated"
    assert rl.post_ids(POSTS[:2]) == [POSTS[0]["id"], POSTS[1]["id"]]
    assert rl.post_ids([{"id": "u", "handle": "h", "posts": [{"id": "x"}]}]) == ["x"]


def test_population_from_world_and_json_round_trip(tmp_path: Path) -> None:
    a, b, c = (User(uuid.UUID(int=n), f"h{n}") for n in (1, 2, 3))
    world = World(users={u.id: u for u in (a, b, c)},
                  follows=[Follow(a.id, b.id), Follow(a.id, c.id, FollowStatus.PENDING)])
    population = rl.population_from_world(world)
    by_id = {u.id: u for u in population.users}
    assert by_id[str(a.id)].follows == (str(b.id),)  # pending follows do not feed the feed
    assert by_id[str(b.id)].follows == ()
    assert rl.Population.load(population.save(tmp_path / "p.json")) == population
    with pytest.raises(HarnessError, match="empty"):
        rl.Population(())
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(HarnessError, match="not JSON"):
        rl.Population.load(tmp_path / "bad.json")


def _stats(name: str, requests: int, failures: int, p95: float, p99: float | None = None
           ) -> lt.EndpointStats:
    return lt.EndpointStats(name, "GET", requests, failures, p50_ms=p95 / 2, p95_ms=p95,
                            p99_ms=p99 if p99 is not None else p95 * 1.5)


LIMITS = lt.Thresholds(max_error_rate=0.01, max_p95_ms=500, max_p99_ms=1500)


def test_thresholds_pass_on_a_healthy_run() -> None:
    feed = _stats("/posts (feed)", 1000, 5, 120)
    verdict = lt.evaluate(feed, [feed], LIMITS)
    assert verdict.passed and verdict.exit_code == 0 and verdict.violations == ()


def test_thresholds_fail_on_error_rate() -> None:
    total = _stats("Aggregated", 1000, 20, 120)
    verdict = lt.evaluate(total, [total], LIMITS)
    assert verdict.exit_code == 1
    assert verdict.violations == ("error rate 2.00% > 1.00% (20/1000 failed)",)


def test_thresholds_fail_on_p95_and_p99() -> None:
    verdict = lt.evaluate(_stats("Aggregated", 1000, 0, 900, 1000), [], LIMITS)
    assert verdict.violations == ("total: p95 900 ms > 500 ms",)
    verdict = lt.evaluate(_stats("Aggregated", 1000, 0, 100, 2000), [], LIMITS)
    assert verdict.violations == ("total: p99 2000 ms > 1500 ms",)


def test_thresholds_per_endpoint_required_and_minimum() -> None:
    slow = _stats("/profiles (profile page)", 10, 0, 800)
    total = _stats("Aggregated", 1000, 0, 200)
    assert lt.evaluate(total, [slow], LIMITS).passed
    per = lt.Thresholds(per_endpoint=True, required=("phx_join",), min_requests=2000)
    found = lt.evaluate(total, [slow], per).violations
    assert found == (
        "only 1000 requests (at least 2000 needed)",
        "GET /profiles (profile page): p95 800 ms > 500 ms",
        "no successful measurement of 'phx_join'",
    )


def test_summary_export_shape_and_round_trip(tmp_path: Path) -> None:
    feed = _stats("/posts (feed)", 100, 1, 80)
    total = _stats("Aggregated", 100, 1, 80)
    verdict = lt.evaluate(total, [feed], LIMITS)
    doc = lt.summary("rest", total, [feed], LIMITS, verdict, {"users": 5})
    assert set(doc) == {"format", "run", "meta", "passed", "violations", "thresholds", "total",
                        "endpoints"}
    assert doc["format"] == lt.SUMMARY_FORMAT and doc["passed"] is True
    row = doc["endpoints"][0]
    assert row == {"name": "/posts (feed)", "method": "GET", "requests": 100, "failures": 1,
                   "error_rate": 0.01, "percentiles_ms": {"p50": 40.0, "p95": 80, "p99": 120.0},
                   "max_ms": 0.0, "avg_ms": 0.0}
    lt.write_summary(tmp_path / "rest.json", doc)
    (tmp_path / "other.json").write_text('{"not": "a load summary"}')
    assert lt.read_summaries(tmp_path) == [json.loads(json.dumps(doc))]


def test_percentiles_of_raw_timings() -> None:
    stats = lt.stats_of("fan-out", "WS", [float(v) for v in range(1, 101)], failures=2)
    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms, stats.requests) == (50.0, 95.0, 99.0, 102)
    assert lt.percentile([], 0.95) == 0.0


JOIN_PAYLOAD = rp.join_payload([rp.ChangeFilter("posts", event="INSERT")], "tok")


@pytest.mark.parametrize("vsn", [rp.VSN_1, rp.VSN_2])
def test_realtime_messages_round_trip(vsn: rp.Vsn) -> None:
    messages = [
        rp.join_message("public:posts", JOIN_PAYLOAD, "1"),
        rp.heartbeat_message("2"),
        rp.leave_message("public:posts", "3", "1"),
        rp.change_message("public:posts", [7], "posts", {"id": "x", "body": "b"},
                          dt.datetime(2026, 1, 2, 3, 4, 5, 678000, dt.UTC)),
    ]
    for message in messages:
        assert rp.decode(rp.encode(message, vsn), vsn) == message
        assert rp.decode(rp.encode(message, vsn).encode(), vsn) == message


def test_realtime_wire_shapes_per_version() -> None:
    beat = rp.heartbeat_message("5")
    assert json.loads(rp.encode(beat, rp.VSN_1)) == {
        "topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "5", "join_ref": None}
    assert json.loads(rp.encode(beat, rp.VSN_2)) == [None, "5", "phoenix", "heartbeat", {}]
    reply = rp.decode('[null,"5","phoenix","phx_reply",{"status":"ok","response":{}}]', rp.VSN_2)
    assert rp.as_reply(reply) == rp.Reply("5", "ok", {})
    v1 = rp.decode('{"topic":"realtime:x","event":"phx_reply","payload":{"status":"error",'
                   '"response":{"reason":"nope"}},"ref":1}', rp.VSN_1)
    assert v1.ref == "1" and rp.as_reply(v1) == rp.Reply("1", "error", {"reason": "nope"})
    for bad, vsn in [("[1,2]", rp.VSN_2), ('{"topic":"t"}', rp.VSN_1), ("nope", rp.VSN_1),
                     ('["1","1","t","e",[]]', rp.VSN_2), ('[null,null,"t","e",{}]', rp.VSN_1)]:
        with pytest.raises(rp.ProtocolError):
            rp.decode(bad, vsn)  # type: ignore[arg-type]
    with pytest.raises(rp.ProtocolError, match="binary"):
        rp.decode(b"\x07\x00\xff", rp.VSN_2)
    with pytest.raises(rp.ProtocolError, match="user broadcast"):
        rp.decode(b"\x04\x09\x00\x00\x01ab", rp.VSN_2)
    # Realtime's V2Serializer user broadcast: kind 4, sizes, encoding 1 (JSON), fields, payload
    topic, event, meta, body = b"realtime:room", b"typing", b'{"id":"m1"}', b'{"who":"a"}'
    frame = bytes([4, len(topic), len(event), len(meta), 1]) + topic + event + meta + body
    message = rp.decode(frame, rp.VSN_2)
    assert (message.topic, message.event) == ("realtime:room", "broadcast")
    assert message.payload == {"type": "broadcast", "event": "typing",
                               "payload": {"who": "a"}, "meta": {"id": "m1"}}


def test_join_payload_matches_realtime_facts() -> None:
    payload = rp.join_payload([rp.ChangeFilter("posts", filter="author_id=eq.42")], "jwt",
                              presence_key="me")
    assert payload == {
        "config": {
            "broadcast": {"ack": False, "self": False},
            "presence": {"key": "me"},
            "postgres_changes": [{"event": "*", "schema": "public", "table": "posts",
                                  "filter": "author_id=eq.42"}],
            "private": False,
        },
        "access_token": "jwt",
    }
    join = rp.join_message("public:posts", payload, "3")
    assert (join.topic, join.event, join.ref, join.join_ref) == (
        "realtime:public:posts", "phx_join", "3", "3")
    assert rp.socket_url("https://api.example/realtime/v1/", "k", rp.VSN_2) == (
        "wss://api.example/realtime/v1/websocket?apikey=k&vsn=2.0.0")
    assert rp.socket_url("ws://127.0.0.1:4000/socket/websocket", "k") == (
        "ws://127.0.0.1:4000/socket/websocket?apikey=k&vsn=1.0.0")
    with pytest.raises(rp.ProtocolError):
        rp.socket_url("ftp://x", "k")
    ready = rp.Message("realtime:public:posts", "system",
                       {"status": "ok", "extension": "postgres_changes", "message": "Subscribed"})
    assert rp.is_changes_ready(ready)
    assert not rp.is_changes_ready(rp.Message("realtime:x", "system", {"status": "error"}))


def test_heartbeat_schedule() -> None:
    beats = rp.HeartbeatSchedule(started_at=100.0)
    assert beats.interval_s == 25.0
    assert not beats.due(124.9) and beats.due(125.0)
    beats.sent("7", 125.0)
    assert beats.next_at() == 150.0 and not beats.due(149.0)
    assert beats.replied("7", 125.04) == pytest.approx(0.04)
    assert beats.replied("7", 126.0) is None and beats.replied(None, 126.0) is None
    beats.sent("8", 150.0)
    assert beats.overdue(155.0, timeout_s=10) == []
    assert beats.overdue(161.0, timeout_s=10) == ["8"] and beats.pending == {}


def test_fanout_latency() -> None:
    sent = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    committed = dt.datetime.fromtimestamp(sent + 0.030, dt.UTC)
    body = f"hello {rp.fanout_marker('run1', sent)}"
    event = rp.change_event(rp.change_message("posts", [1], "posts", {"body": body}, committed))
    assert event is not None and event.type == "INSERT" and event.ids == (1,)
    assert event.commit_timestamp == committed
    latency = rp.fanout_latency(event, sent + 0.080, run_id="run1")
    assert latency.commit_ms == pytest.approx(50.0, abs=0.01)
    assert latency.send_ms == pytest.approx(80.0, abs=0.01) and not latency.clock_skew
    other_run = rp.fanout_latency(event, sent + 0.080, run_id="run2")
    assert other_run.send_ms is None and other_run.commit_ms is not None
    skewed = rp.fanout_latency(event, sent + 0.010)
    assert skewed.clock_skew and skewed.commit_ms == 0.0
    assert rp.parse_timestamp("2026-01-01T00:00:00.5Z").timestamp() == sent + 0.5
    assert rp.parse_marker("no marker") is None
    assert rp.change_event(rp.heartbeat_message("1")) is None


# == protocol doubles ==========================================================================
class PostgrestProtocolDouble:
    """A test double of PostgREST's HTTP surface for the routes the load file uses: checks the
    apikey and the user's JWT, answers reads with fixed rows and writes with 201. Not
    PostgREST: no SQL, no RLS."""

    def __init__(self, failing: frozenset[str] = frozenset(),
                 on_post: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.failing = failing
        self.on_post = on_post
        self.seen: list[tuple[str, str, dict[str, list[str]]]] = []
        self.problems: list[str] = []
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                double.handle(self, "GET")

            def do_POST(self) -> None:
                double.handle(self, "POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/rest/v1"

    def __enter__(self) -> PostgrestProtocolDouble:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def handle(self, req: http.server.BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        table = parts.path.removeprefix("/rest/v1/")
        query = parse_qs(parts.query)
        self.seen.append((method, table, query))
        length = int(req.headers.get("Content-Length") or 0)
        body = json.loads(req.rfile.read(length)) if length else None
        status, answer = self.answer(req, method, table, query, body)
        data = b"" if answer is None else json.dumps(answer).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def answer(self, req: http.server.BaseHTTPRequestHandler, method: str, table: str,
               query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if req.headers.get("apikey") != ANON_KEY:
            return 401, {"message": "no apikey"}
        token = (req.headers.get("Authorization") or "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"],
                                options={"verify_aud": False})
        except jwt.PyJWTError as exc:
            return 401, {"message": str(exc)}
        if f"{method} {table}" in self.failing:
            return 500, {"message": "double told to fail"}
        if method == "GET":
            return 200, self.read(table, query)
        if "return=minimal" not in (req.headers.get("Prefer") or ""):
            self.problems.append(f"POST {table} without Prefer: return=minimal")
        owner = body.get("user_id") or body.get("author_id")
        if owner != claims.get("sub"):
            self.problems.append(f"POST {table} for {owner} with a token of {claims.get('sub')}")
        if table == "posts" and self.on_post is not None:
            self.on_post(body)
        return 201, None

    def read(self, table: str, query: dict[str, list[str]]) -> Any:
        if table == "profiles" and "handle" in query:
            handle = query["handle"][0].removeprefix("eq.")
            return [{"id": i, "handle": h, "posts": POSTS[:3]} for i, h in USERS if h == handle]
        if table == "profiles":
            return [{"id": i, "handle": h} for i, h in USERS]
        if table == "follows":
            return [{"follower_id": USERS[0][0], "followee_id": USERS[1][0]}]
        if table == "posts":
            limit = int(query.get("limit", ["20"])[0])
            return POSTS[:limit]
        return []


def test_population_discovery_through_the_rest_double() -> None:
    with PostgrestProtocolDouble() as double:
        population = rl.discover_population(double.url, ANON_KEY, SERVICE_KEY)
        assert [u.handle for u in population.users] == [h for _, h in USERS]
        assert population.users[0].follows == (USERS[1][0],)
        follows_query = next(q for m, t, q in double.seen if t == "follows")
        assert follows_query["status"] == ["eq.accepted"]
        assert follows_query["follower_id"][0].startswith("in.(")
    with pytest.raises(HarnessError, match="unreachable"):
        rl.discover_population(double.url, ANON_KEY, SERVICE_KEY, timeout=1)


# == the locust files, end to end against the doubles ========================================
SECRETS = {"SOBER_LOAD_JWT_SECRET": SECRET, "SOBER_LOAD_ANON_KEY": ANON_KEY,
           "SOBER_LOAD_SERVICE_KEY": SERVICE_KEY}
RUN_S = 5


@pytest.fixture(scope="module")
def population_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("load")
    users = tuple(rl.LoadUser(i, h, (USERS[1][0],)) for i, h in USERS)
    return rl.Population(users).save(folder / "population.json")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, population_file: Path
         ) -> Iterator[dict[str, Any]]:
    """All locust runs at once (each is its own process): REST pass, REST with failing
    writes, REST without secrets, Realtime vsn 1 (pass) and vsn 2 (impossible latency limit)."""
    out = tmp_path_factory.mktemp("load-out")
    realtime = RealtimeProtocolDouble(SECRET, ANON_KEY)
    with (PostgrestProtocolDouble() as rest_ok,
          PostgrestProtocolDouble(frozenset({"POST likes", "POST comments"})) as rest_bad,
          realtime,
          PostgrestProtocolDouble(on_post=realtime.push_insert) as rest_rt):
        fast = ["--think-scale", "0.02", "--max-p95-ms", "2000", "--max-p99-ms", "5000"]
        rt = ["--population", str(population_file), "--realtime-url", realtime.url,
              "--heartbeat-interval", "1", "--post-interval", "0.3", "--drain", "1",
              "--max-p95-ms", "2000", "--max-p99-ms", "5000"]
        plans: dict[str, Callable[[], LocustResult]] = {
            "rest_ok": lambda: run_locust(
                LOADTESTS / "rest.py", rest_ok.url, users=4, spawn_rate=4, run_time_s=RUN_S,
                summary_out=out / "rest_ok.json", secrets=SECRETS, extra=fast),
            "rest_bad": lambda: run_locust(
                LOADTESTS / "rest.py", rest_bad.url, users=4, spawn_rate=4, run_time_s=RUN_S,
                summary_out=out / "rest_bad.json", secrets=SECRETS,
                extra=[*fast, "--population", str(population_file)]),
            "rest_no_secret": lambda: run_locust(
                LOADTESTS / "rest.py", rest_ok.url, users=1, spawn_rate=1, run_time_s=RUN_S,
                summary_out=out / "rest_no_secret.json",
                secrets={"SOBER_LOAD_JWT_SECRET": "", "SOBER_LOAD_ANON_KEY": ANON_KEY}),
            "rt_v1": lambda: run_locust(
                LOADTESTS / "realtime.py", rest_rt.url, users=4, spawn_rate=4,
                run_time_s=RUN_S + 3, summary_out=out / "rt_v1.json", secrets=SECRETS, extra=rt),
            "rt_v2": lambda: run_locust(
                LOADTESTS / "realtime.py", rest_rt.url, users=3, spawn_rate=3,
                run_time_s=RUN_S + 3, summary_out=out / "rt_v2.json", secrets=SECRETS,
                extra=[*rt, "--realtime-vsn", "2.0.0", "--max-p95-ms", "0.001"]),
        }
        with concurrent.futures.ThreadPoolExecutor(len(plans)) as pool:
            futures = {name: pool.submit(plan) for name, plan in plans.items()}
            results = {name: f.result() for name, f in futures.items()}
        yield {"results": results, "rest_ok": rest_ok, "rest_bad": rest_bad,
               "realtime": realtime, "rest_rt": rest_rt}


def _no_secret_in(result: LocustResult) -> None:
    text = json.dumps(result.summary)
    assert SECRET not in text and ANON_KEY not in text and SERVICE_KEY not in text


def test_rest_locustfile_passes_against_the_double(runs: dict[str, Any]) -> None:
    result: LocustResult = runs["results"]["rest_ok"]
    assert result.exit_code == 0, result.output[-2000:]
    summary = result.summary
    assert summary is not None and summary["passed"] is True and summary["violations"] == []
    assert summary["meta"]["population"] == len(USERS)  # read from the double's /profiles
    feed = result.endpoint(rl.ENDPOINT[rl.Action.FEED])
    assert feed is not None and feed["requests"] > 0 and feed["failures"] == 0
    assert set(feed["percentiles_ms"]) == {"p50", "p95", "p99"}
    assert result.endpoint(rl.ENDPOINT[rl.Action.PROFILE]) is not None
    double: PostgrestProtocolDouble = runs["rest_ok"]
    assert double.problems == []
    feeds = [q for m, t, q in double.seen if m == "GET" and t == "posts"]
    assert feeds and feeds[0]["order"] == ["created_at.desc"] and feeds[0]["limit"] == ["20"]
    _no_secret_in(result)


def test_rest_locustfile_fails_on_error_rate(runs: dict[str, Any]) -> None:
    result: LocustResult = runs["results"]["rest_bad"]
    assert result.exit_code == 1, result.output[-2000:]
    summary = result.summary
    assert summary is not None and summary["passed"] is False
    assert any(v.startswith("error rate") for v in summary["violations"])
    writes = [result.endpoint(rl.ENDPOINT[a]) for a in (rl.Action.LIKE, rl.Action.COMMENT)]
    assert any(w and w["failures"] > 0 and w["failures"] == w["requests"] for w in writes)


def test_rest_locustfile_refuses_to_run_without_a_secret(runs: dict[str, Any]) -> None:
    result: LocustResult = runs["results"]["rest_no_secret"]
    assert result.exit_code == 4 and result.summary is None
    assert "SOBER_LOAD_JWT_SECRET is not set" in result.output


def test_realtime_locustfile_times_join_and_fanout(runs: dict[str, Any]) -> None:
    result: LocustResult = runs["results"]["rt_v1"]
    assert result.exit_code == 0, result.output[-3000:]
    summary = result.summary
    assert summary is not None and summary["passed"] is True
    assert summary["meta"]["vsn"] == "1.0.0"
    for name in ("phx_join", "postgres_changes ready", "fan-out from send",
                 "fan-out from commit", "heartbeat", "/posts (fan-out source)"):
        row = result.endpoint(name)
        assert row is not None and row["requests"] > 0 and row["failures"] == 0, name
    delivery = summary["delivery"]  # the same checker as suites/realtime
    assert delivery["expected"] > 0 and delivery["delivered"] == delivery["expected"]
    assert (delivery["lost"], delivery["duplicate"], delivery["leak"]) == (0, 0, 0)
    assert delivery["latency_ms"]["samples"] > 0
    double: RealtimeProtocolDouble = runs["realtime"]
    assert double.problems == []
    assert double.heartbeats > 0
    _vsn, topic, payload = next(j for j in double.joined if j[0] == "1.0.0")
    assert topic == "realtime:public:posts"
    assert payload["config"]["postgres_changes"] == [
        {"event": "INSERT", "schema": "public", "table": "posts"}]
    _no_secret_in(result)


def test_realtime_locustfile_exit_code_follows_thresholds_on_vsn2(runs: dict[str, Any]) -> None:
    result: LocustResult = runs["results"]["rt_v2"]
    assert result.exit_code == 1, result.output[-3000:]
    summary = result.summary
    assert summary is not None and summary["meta"]["vsn"] == "2.0.0"
    assert any("p95" in v for v in summary["violations"])
    join, fanout = result.endpoint("phx_join"), result.endpoint("fan-out from send")
    assert join and join["requests"] > 0 and join["failures"] == 0
    assert fanout and fanout["requests"] > 0
    assert any(j[0] == "2.0.0" for j in runs["realtime"].joined)


def test_locust_run_kills_an_overrunning_locust(tmp_path: Path, population_file: Path) -> None:
    began = time.monotonic()
    with pytest.raises(HarnessError, match="deadline"):
        run_locust(LOADTESTS / "rest.py", "http://127.0.0.1:9/rest/v1", users=1, spawn_rate=1,
                   run_time_s=60, summary_out=tmp_path / "x.json", secrets=SECRETS,
                   extra=["--population", str(population_file)], timeout_s=2)
    assert time.monotonic() - began < 10


def test_library_side_never_imports_locust() -> None:
    """Suites import these modules; locust (and gevent's monkey-patching) must stay out."""
    code = (
        "import sys\n"
        "import soberharness.workload.locust_run, soberharness.workload.rest_load\n"
        "import soberharness.clients.realtime, soberharness.checker.load_thresholds\n"
        "import soberharness.workload.fanout_collector, soberharness.workload.realtime_fanout\n"
        "import soberharness.checker.realtime_delivery, soberharness.clients.realtime_sync\n"
        "bad = sorted(m for m in ('locust', 'gevent') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-500:]


def test_load_world_fits_the_schema_and_is_removed(scratch_database: str) -> None:
    world = rl.load_world(8, "selftest", follows_each=3, posts_each=2)
    population = rl.population_from_world(world)
    assert len(population.users) == 8 and all(len(u.follows) == 3 for u in population.users)
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, world)
        counted = conn.execute(
            "SELECT (SELECT count(*) FROM public.profiles WHERE handle LIKE 'load_selftest_%'),"
            " (SELECT count(*) FROM public.follows), (SELECT count(*) FROM public.posts)"
        ).fetchone()
        assert counted == (8, 24, 16)
        remove_world(conn, world)
        assert leftovers(conn, world) == {}
        assert conn.execute("SELECT count(*) FROM public.posts").fetchone() == (0,)


# == locust distributed: a master and two workers on this machine ============================
@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory, population_file: Path
                ) -> Iterator[dict[str, LocustResult]]:
    """Two distributed runs at once: a clean double, and one dropping every 3rd change."""
    out = tmp_path_factory.mktemp("load-dist")
    clean, lossy = RealtimeProtocolDouble(SECRET, ANON_KEY), RealtimeProtocolDouble(
        SECRET, ANON_KEY, faults=Faults(drop_every=3))
    with (clean, lossy, PostgrestProtocolDouble(on_post=clean.push_insert) as rest_clean,
          PostgrestProtocolDouble(on_post=lossy.push_insert) as rest_lossy):
        def plan(name: str, rest: PostgrestProtocolDouble, rt: RealtimeProtocolDouble
                 ) -> LocustResult:
            return run_locust_distributed(
                LOADTESTS / "realtime.py", rest.url, workers=2, users=6, spawn_rate=6,
                run_time_s=RUN_S + 1, summary_out=out / f"{name}.json", secrets=SECRETS,
                extra=["--population", str(population_file), "--realtime-url", rt.url,
                       "--heartbeat-interval", "1", "--post-interval", "0.3", "--drain", "2",
                       "--writers", "2", "--max-p95-ms", "5000", "--max-p99-ms", "10000"])
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = {"clean": pool.submit(plan, "clean", rest_clean, clean),
                       "lossy": pool.submit(plan, "lossy", rest_lossy, lossy)}
            yield {name: f.result() for name, f in futures.items()}


def test_distributed_locust_judges_every_workers_subscribers(
        distributed: dict[str, LocustResult]) -> None:
    result = distributed["clean"]
    assert result.summary is not None, result.output[-3000:]
    assert result.exit_code == 0, (result.summary["violations"], result.output[-1500:])
    delivery = result.summary["delivery"]
    assert delivery["subscribers"] == 4  # 6 users, 2 of them writers, over two workers
    assert delivery["expected"] > 0 and delivery["delivered"] == delivery["expected"]
    assert result.summary["meta"]["writers"] == 2


def test_distributed_locust_fails_on_lost_deliveries(
        distributed: dict[str, LocustResult]) -> None:
    result = distributed["lossy"]
    assert result.exit_code == 1, result.output[-3000:]
    assert result.summary is not None
    delivery = result.summary["delivery"]
    assert delivery["lost"] > 0 and delivery["duplicate"] == delivery["leak"] == 0
    assert all(f.startswith("lost: ") for f in delivery["findings"])
    # the master judged subscribers of both workers (names carry the worker index)
    assert {f.split("-")[1] for f in delivery["findings"]} == {"w0", "w1"}
    assert any(v.startswith("delivery: ") and " lost " in v
               for v in result.summary["violations"])
