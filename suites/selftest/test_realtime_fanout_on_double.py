"""The Realtime checks' own logic, end to end against `RealtimeProtocolDouble`: the matrix's
actors subscribe with their own tokens, writes run as PostgREST runs them in a throwaway
database, and the double decides delivery the way Realtime does, re-reading each INSERT and
UPDATE under the subscriber's claims with the stack's real RLS (no RLS on DELETE).

Planted defects in the double (a dropped, a duplicated, a leaked and a reordered event; a
sender not getting its own broadcast; a leave never announced) must be reported as exactly
that event and subscriber, or that member.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jwt
import psycopg
import pytest

from soberharness.checker import realtime_delivery as rd
from soberharness.clients.postgrest_sql import Request, RequestRunner
from soberharness.db import session as db_session
from soberharness.db import sql as rows
from soberharness.db.seed import write_world
from soberharness.records.realtime import Change, Subscription
from soberharness.testing.realtime_protocol_double import Faults, RealtimeProtocolDouble
from soberharness.workload import realtime_fanout as rf
from soberharness.workload import realtime_plans as plans
from soberharness.workload import realtime_rooms as rooms
from soberharness.world.entities import Follow, Post, Privacy, Role, Viewer
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world

SECRET = "selftest-realtime-jwt-secret-0123456789abcdef"
ANON_KEY = jwt.encode({"role": "anon", "iss": "soberharness", "exp": 4_102_444_800}, SECRET,
                      algorithm="HS256")
KEYS = {"follows": ("follower_id", "followee_id")}


def _viewer(claims: Mapping[str, Any]) -> Viewer:
    role = Role(str(claims.get("role")))
    if role is not Role.AUTHENTICATED:
        return Viewer(role)
    moderator = (claims.get("app_metadata") or {}).get("role") == "moderator"
    return Viewer(role, uuid.UUID(str(claims["sub"])), moderator=moderator)


def rls_check(dsn: str) -> Callable[[Mapping[str, Any], str, Mapping[str, Any]], bool]:
    """What Realtime does per subscriber: read the new row under its role and claims."""
    conn = db_session.connect(dsn, autocommit=True)
    runner = RequestRunner(conn)

    def visible(claims: Mapping[str, Any], table: str, record: Mapping[str, Any]) -> bool:
        key = KEYS.get(table, ("id",))
        row = rows.Row("public", table, dict(record), key)
        outcome = runner.run(_viewer(claims), Request(rows.select_one(row)))
        return outcome.ok and bool(outcome.rows)

    return visible


def who(viewer: Viewer) -> str:
    return str(viewer.user_id) if viewer.user_id else viewer.role.value


class Stack:
    def __init__(self, dsn: str, mw: MatrixWorld, double: RealtimeProtocolDouble,
                 conn: psycopg.Connection) -> None:
        self.dsn, self.mw, self.double, self.conn = dsn, mw, double, conn
        self.endpoint = rf.RealtimeEndpoint(double.url, ANON_KEY, SECRET)

    def ledger(self, subscribers: Mapping[str, Viewer]) -> rf.FanoutLedger:
        def publish(change: Change) -> None:
            self.double.publish(change.table, change.type, change.row,
                                old_record=change.row if change.type == "DELETE" else
                                dict(change.key))
        return rf.FanoutLedger(rf.SqlWriter(self.conn), self.mw.world, subscribers,
                               on_change=publish)


@pytest.fixture
def stack(scratch_database: str) -> Iterator[Callable[[Faults | None], Stack]]:
    mw = build_matrix_world()
    opened: list[tuple[RealtimeProtocolDouble, psycopg.Connection]] = []
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)

        def make(faults: Faults | None = None) -> Stack:
            double = RealtimeProtocolDouble(SECRET, ANON_KEY, visible=rls_check(scratch_database),
                                            primary_keys=KEYS, faults=faults)
            double.__enter__()
            opened.append((double, conn))
            return Stack(scratch_database, mw, double, conn)

        yield make
        for double, _ in opened:
            assert double.problems == []
            double.__exit__(None, None, None)


async def _fanout(st: Stack, plan: Callable[[rf.FanoutLedger, MatrixWorld], None],
                  viewers: Mapping[str, Viewer],
                  subscriptions: Mapping[str, tuple[Subscription, ...]] | None = None,
                  timeout_s: float = 5.0,
                  ) -> tuple[rd.DeliveryReport, list[rf.Listener], rf.FanoutLedger]:
    listeners = await rf.open_listeners(st.endpoint, viewers, "selftest", subscriptions)
    try:
        ledger = st.ledger(viewers)
        await asyncio.to_thread(plan, ledger, st.mw)
        report = await rf.settle_and_judge(ledger.changes, listeners, timeout_s=timeout_s,
                                           quiet_s=0.3)
    finally:
        await rf.close_all(listeners)
    return report, listeners, ledger


def test_matrix_fanout_matches_the_model(stack: Callable[..., Stack]) -> None:
    st = stack()
    viewers = plans.matrix_subscribers(st.mw)
    report, listeners, ledger = asyncio.run(_fanout(st, plans.content_plan, viewers))
    assert report.findings == [], report.findings
    # Per privacy: post insert, edit, comment, like, video, like and comment deleted, post hidden
    # and deleted, video deleted; follows are not published (migration 0010).
    assert report.changes == len(ledger.changes) == 3 * 10
    by_name = {x.subscriber.name: x for x in listeners}
    anon_got = {(d.event.type, d.event.row.get("id")) for d in by_name["anon"].deliveries()}
    public_post = str(st.mw.id("rt/post/public"))
    community_post = str(st.mw.id("rt/post/community"))
    assert ("INSERT", public_post) in anon_got and ("INSERT", community_post) not in anon_got
    # No RLS on DELETE: the blocked actor gets the DELETE of a post it never saw.
    blocked = {(d.event.type, d.event.row.get("id")) for d in by_name["blocked"].deliveries()}
    assert ("DELETE", public_post) in blocked and ("INSERT", public_post) not in blocked
    assert report.summary()["latency_ms"]["samples"] == report.delivered


def test_planted_defects_are_reported_as_that_event_and_subscriber(
        stack: Callable[..., Stack]) -> None:
    mw = build_matrix_world()
    follower, stranger = Viewer.of(mw.users["follower"]), Viewer.of(mw.users["stranger"])
    anon, moderator = Viewer.anon(), Viewer.of(mw.users["moderator"])
    # Changes of content_plan: 1 INSERT post/public, 2 UPDATE it, ... 11 INSERT post/community
    faults = Faults(drop={(who(follower), 1)}, duplicate={(who(stranger), 2)},
                    leak={(who(anon), 11)}, reorder={(who(moderator), 1)})
    st = stack(faults)
    viewers = {"follower": follower, "stranger": stranger, "anon": anon, "moderator": moderator}
    report, _, ledger = asyncio.run(_fanout(st, plans.content_plan, viewers, timeout_s=1))
    label = {c.seq: c.label for c in ledger.changes}
    assert [(f.kind, f.subscriber, f.change) for f in report.findings] == [
        (rd.LOST, "follower", label[1]),
        (rd.DUPLICATE, "stranger", label[2]),
        (rd.LEAK, "anon", label[11]),
        (rd.REORDERED, "moderator", label[1]),
    ], report.findings
    assert "post/" not in label[11] and "INSERT posts" in label[11]


def test_a_delete_with_the_whole_row_is_a_leak(stack: Callable[..., Stack]) -> None:
    st = stack(Faults(delete_full_row=True))
    viewers = {"stranger": Viewer.of(st.mw.users["stranger"])}
    report, _, _ = asyncio.run(_fanout(st, plans.content_plan, viewers))
    assert report.findings and {f.kind for f in report.findings} == {rd.LEAK}
    assert all("DELETE old_record carries" in f.detail for f in report.findings)


def test_after_a_block_the_blocked_follower_stops_receiving(stack: Callable[..., Stack]) -> None:
    st = stack()
    follower = Viewer.of(st.mw.users["follower"])
    report, listeners, ledger = asyncio.run(
        _fanout(st, plans.block_plan, {"follower": follower, "stranger":
                                       Viewer.of(st.mw.users["stranger"])}))
    assert report.findings == [], report.findings
    got = [(d.event.type, d.event.table) for d in listeners[0].deliveries()]
    assert got == [("INSERT", "posts")]  # not the post after the block
    assert [(c.type, c.table) for c in ledger.changes] == [("INSERT", "posts")] * 2


def test_filters_eq_and_in_narrow_delivery(stack: Callable[..., Stack]) -> None:
    st = stack()
    names = ("stranger", "moderator", "follower")
    viewers = {n: Viewer.of(st.mw.users[n]) for n in names}
    subs = plans.filter_subscriptions(st.mw)
    report, listeners, _ = asyncio.run(_fanout(st, plans.filter_plan, viewers, subs))
    assert report.findings == [], report.findings
    got = {x.subscriber.name: sorted(d.event.type for d in x.deliveries()) for x in listeners}
    # eq on author: the public owner's 2 posts, inserted and edited, no DELETE (non-key column)
    assert got["stranger"] == ["INSERT", "INSERT", "UPDATE", "UPDATE"]
    # in on ids: posts 1 and 3, DELETEs included (key column)
    assert got["moderator"] == ["DELETE", "DELETE", "INSERT", "INSERT", "UPDATE", "UPDATE"]
    assert got["follower"] == ["INSERT"] * 4


def test_a_refreshed_token_keeps_the_channel_an_expired_one_shuts_it(
        stack: Callable[..., Stack]) -> None:
    st = stack()
    follower = Viewer.of(st.mw.users["follower"])
    owner = Viewer.of(st.mw.owners[Privacy.PRIVATE])

    def write() -> list[Change]:
        ledger = st.ledger({"follower": follower})
        ledger.insert(owner, Post(st.mw.id("rt/refresh"), st.mw.owners[Privacy.PRIVATE].id))
        return ledger.changes

    problems = asyncio.run(rf.token_refresh_round(st.endpoint, "follower", follower, write,
                                                  "refresh", lifetime_s=1.5))
    assert problems == []


def test_broadcast_and_presence_rounds(stack: Callable[..., Stack]) -> None:
    st = stack()
    trio = {n: Viewer.of(st.mw.users[n]) for n in ("follower", "stranger", "moderator")}
    assert asyncio.run(rooms.broadcast_round(st.endpoint, trio, "room")) == []
    assert asyncio.run(rooms.presence_round(st.endpoint, trio, "lobby")) == []
    reason = asyncio.run(rooms.private_join(st.endpoint, trio["follower"], "private-room"))
    assert reason is not None and "permissions" in reason


def test_broadcast_and_presence_defects_are_reported(stack: Callable[..., Stack]) -> None:
    st = stack(Faults(no_self_broadcast=True, no_presence_leave=True))
    trio = {n: Viewer.of(st.mw.users[n]) for n in ("follower", "stranger", "moderator")}
    assert asyncio.run(rooms.broadcast_round(st.endpoint, trio, "room", wait_s=1)) == [
        "follower did not receive 'ping' from follower (config.broadcast.self)"]
    problems = asyncio.run(rooms.presence_round(st.endpoint, trio, "lobby", wait_s=1))
    assert [p.split(":")[0] for p in problems] == [
        "presence of follower did not converge to ['follower', 'stranger'] after moderator left",
        "presence of stranger did not converge to ['follower', 'stranger'] after moderator left",
    ]


def test_changes_carry_the_primary_key_as_realtime_sends_it() -> None:
    post = Post(uuid.UUID(int=1), uuid.UUID(int=2))
    table, values, key = rf.row_values(post)
    assert (table, key) == ("posts", (("id", str(uuid.UUID(int=1))),))
    assert values["author_id"] == str(uuid.UUID(int=2)) and values["hidden_at"] is None
    follow_key = rf.row_values(Follow(uuid.UUID(int=3), uuid.UUID(int=4)))[2]
    assert follow_key == (("follower_id", str(uuid.UUID(int=3))),
                          ("followee_id", str(uuid.UUID(int=4))))


def test_fanout_under_load_is_judged_by_the_same_checker(stack: Callable[..., Stack]) -> None:
    from soberharness.workload import realtime_load as rl

    for faults, lost in ((None, 0), (Faults(drop_every=4), None)):
        st = stack(faults)
        shape = rl.LoadShape(subscribers=22, writers=3, posts_each=2, interval_s=0.02,
                             tag=str(lost))
        subscribers = rl.load_subscribers(st.mw, shape.subscribers)
        ledger = st.ledger(subscribers)
        conns: list[psycopg.Connection] = []

        def writer_for(dsn: str = st.dsn, conns: list[psycopg.Connection] = conns
                       ) -> rf.Writer:
            conns.append(db_session.connect(dsn, autocommit=True))
            return rf.SqlWriter(conns[-1])

        try:
            report, _ = asyncio.run(rl.fanout_under_load(st.endpoint, ledger, st.mw, shape,
                                                         writer_for, timeout_s=1.0))
        finally:
            for conn in conns:
                conn.close()
        summary = report.summary()
        assert summary["changes"] == 6 and summary["subscribers"] == 22
        if lost == 0:
            assert report.findings == [], report.findings
            # 6 posts: 2 public (everyone but blocked/blocker), 2 community (signed in but
            # not blocked/blocker), 2 private (self, follower, moderator, service)
            assert summary["latency_ms"]["samples"] == report.delivered == report.expected
        else:  # every 4th change dropped for everyone: exactly those are lost, nothing else
            dropped = {c.label for c in ledger.changes if c.seq % 4 == 0}
            assert {f.kind for f in report.findings} == {rd.LOST}
            assert {f.change for f in report.findings} == dropped
