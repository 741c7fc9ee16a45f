"""What actors do on Realtime: subscribe with their own tokens to every published table, write
through the REST path (or SQL as PostgREST runs it), and hand both sides to the delivery
checker.

`FanoutLedger` performs each write as its actor, keeps the world up to date and records the
change with the subscribers the access model (built on the world after the write) lets read
the row. A block also records the follows the stack's trigger removes with it.
`open_listeners` joins one channel per subscriber; `settle_and_judge` waits until nothing
more is due (or a deadline) and judges with `soberharness.checker.realtime_delivery`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import httpx
import psycopg

from soberharness.access.model import AccessModel
from soberharness.checker import realtime_delivery as rd
from soberharness.clients import realtime as rp
from soberharness.clients.postgrest_sql import Request, RequestRunner
from soberharness.clients.realtime_async import AsyncRealtimeClient
from soberharness.db import sql as rows
from soberharness.db.claims import claims_for, sign, token_for
from soberharness.errors import HarnessError
from soberharness.records.realtime import Change, Delivery, Subscriber, Subscription
from soberharness.services import realtime, rest
from soberharness.world.entities import (
    Block,
    Entity,
    Follow,
    Viewer,
    World,
)

# The tables in the supabase_realtime publication: stack/migrations/0006_realtime adds them,
# 0010 takes `follows` out again (docs/access-decisions.md 16). Kept equal to the publication
# by suites/selftest/test_realtime_published_tables.py.
PUBLISHED: tuple[str, ...] = ("posts", "videos", "comments", "likes")
HTTP_TIMEOUT_S = 10.0
OnChange = Callable[[Change], None]


def _text(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def row_values(entity: Entity) -> tuple[str, dict[str, Any], tuple[tuple[str, str], ...]]:
    """Table, column values (as Realtime's JSON carries them) and primary key of `entity`."""
    row = rows.row_of(entity)
    values = {c: _text(v) for c, v in row.values.items()}
    return row.table, values, tuple((c, str(values[c])) for c in row.key)


# -- writers ------------------------------------------------------------------------------------
class Writer(Protocol):
    def insert(self, viewer: Viewer, entity: Entity) -> None: ...

    def update(self, viewer: Viewer, before: Entity, after: Entity) -> None: ...

    def delete(self, viewer: Viewer, entity: Entity) -> None: ...


class SqlWriter:
    """Writes as PostgREST runs a request (role, claims, RLS), committed."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.runner = RequestRunner(conn, commit=True)

    def _run(self, viewer: Viewer, query: Any, method: str, what: str) -> None:
        outcome = self.runner.run(viewer, Request(query, method=method))
        if not outcome.ok or outcome.rowcount != 1:
            raise HarnessError(f"{what} as {viewer.role}/{viewer.user_id}: "
                               f"{outcome.error or f'{outcome.rowcount} rows'}")

    def insert(self, viewer: Viewer, entity: Entity) -> None:
        self._run(viewer, rows.insert(rows.row_of(entity)), "POST", f"insert {entity}")

    def update(self, viewer: Viewer, before: Entity, after: Entity) -> None:
        query = rows.update(rows.row_of(before), rows.row_of(after))
        self._run(viewer, query, "PATCH", f"update {before}")

    def delete(self, viewer: Viewer, entity: Entity) -> None:
        self._run(viewer, rows.delete(rows.row_of(entity)), "DELETE", f"delete {entity}")


class RestWriter:
    """Writes through PostgREST with the actor's own token."""

    def __init__(self, rest_url: str, anon_key: str, jwt_secret: str,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.api = rest.client(rest_url, anon_key, timeout=HTTP_TIMEOUT_S, transport=transport)
        self.secret = jwt_secret

    def _send(self, viewer: Viewer, method: str, entity: Entity, body: Any = None,
              key_of: Entity | None = None) -> None:
        row = rows.row_of(key_of or entity)
        params = [] if method == "POST" else [(c, f"eq.{row.values[c]}") for c in row.key]
        caller = self.api.as_token(token_for(viewer, self.secret))
        answer = caller.send(method, f"/{row.table}", params=params, body=body,
                             prefer=["return=representation"])
        data = answer.body
        if answer.status >= 300 or not isinstance(data, list) or len(data) != 1:
            raise HarnessError(f"REST {method} /{row.table} as {viewer.user_id}: "
                               f"HTTP {answer.status} {str(data)[:160]}")

    def insert(self, viewer: Viewer, entity: Entity) -> None:
        self._send(viewer, "POST", entity, row_values(entity)[1])

    def update(self, viewer: Viewer, before: Entity, after: Entity) -> None:
        _, old, _ = row_values(before)
        _, new, _ = row_values(after)
        changed = {c: v for c, v in new.items() if old.get(c) != v}
        self._send(viewer, "PATCH", after, changed, key_of=before)

    def delete(self, viewer: Viewer, entity: Entity) -> None:
        self._send(viewer, "DELETE", entity)

    def close(self) -> None:
        self.api.close()


# -- the ledger of changes ----------------------------------------------------------------------
class FanoutLedger:
    """Runs writes as actors and records each change with who may see it."""

    def __init__(self, writer: Writer, world: World, subscribers: Mapping[str, Viewer],
                 on_change: OnChange | None = None, published: Sequence[str] = PUBLISHED) -> None:
        self.writer = writer
        self.world = world.copy()
        self.subscribers = dict(subscribers)
        self.on_change = on_change
        self.published = tuple(published)
        self.changes: list[Change] = []
        self.lock = threading.RLock()  # writers may share a ledger across threads

    def _record(self, kind: str, entity: Entity) -> None:
        table, values, key = row_values(entity)
        if table not in self.published:
            return
        model = AccessModel(self.world)
        visible = frozenset() if kind == "DELETE" else frozenset(
            name for name, viewer in self.subscribers.items() if model.can_read(viewer, entity))
        change = Change(len(self.changes) + 1, table, kind, key, values, visible,
                           time.time())
        self.changes.append(change)
        if self.on_change is not None:
            self.on_change(change)

    def _check(self, allowed: bool, what: str) -> None:
        if not allowed:
            raise HarnessError(f"the write plan asks for a write the access model refuses: "
                               f"{what}")

    def insert(self, viewer: Viewer, entity: Entity, via: Writer | None = None) -> Entity:
        """Insert as `viewer` (through `via`, a writer of the calling thread, if given)."""
        with self.lock:
            self._check(AccessModel(self.world).can_insert(viewer, entity), f"insert {entity}")
        (via or self.writer).insert(viewer, entity)
        with self.lock:
            self.world.add(entity)
            self._record("INSERT", entity)
            if isinstance(entity, Block):  # the stack removes follows both ways with it
                pair = {entity.blocker, entity.blocked}
                for follow in [f for f in self.world.follows
                               if {f.follower, f.followee} == pair]:
                    self.world.follows.remove(follow)
                    self._record("DELETE", follow)
        return entity

    def update(self, viewer: Viewer, before: Entity, after: Entity,
               via: Writer | None = None) -> Entity:
        with self.lock:
            self._check(AccessModel(self.world).can_update(viewer, before, after),
                        f"update {before}")
        (via or self.writer).update(viewer, before, after)
        with self.lock:
            _replace(self.world, before, after)
            self._record("UPDATE", after)
        return after

    def delete(self, viewer: Viewer, entity: Entity, via: Writer | None = None) -> None:
        with self.lock:
            self._check(AccessModel(self.world).can_delete(viewer, entity), f"delete {entity}")
        (via or self.writer).delete(viewer, entity)
        with self.lock:
            _replace(self.world, entity, None)
            self._record("DELETE", entity)


def _replace(world: World, before: Entity, after: Entity | None) -> None:
    if isinstance(before, Follow):
        world.follows = [f for f in world.follows
                         if (f.follower, f.followee) != (before.follower, before.followee)]
    elif isinstance(before, Block):
        world.blocks = [b for b in world.blocks if b != before]
    else:
        table = rows.row_of(before).table
        store = {"posts": world.posts, "videos": world.videos, "comments": world.comments,
                 "likes": world.likes, "profiles": world.users,
                 "objects": world.objects}[table]
        store.pop(before.id, None)  # type: ignore[union-attr]
    if after is not None:
        world.add(after)


# -- listening ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RealtimeEndpoint:
    url: str
    apikey: str
    jwt_secret: str
    vsn: rp.Vsn = rp.VSN_1


@dataclasses.dataclass
class Listener:
    subscriber: Subscriber
    viewer: Viewer
    client: AsyncRealtimeClient
    channel: rp.Channel

    def deliveries(self) -> list[Delivery]:
        return [Delivery(self.subscriber.name, r.event, r.received_at)
                for r in self.channel.changes]


def every_table(tables: Iterable[str] = PUBLISHED) -> tuple[Subscription, ...]:
    return tuple(Subscription(t) for t in tables)


async def open_listener(endpoint: RealtimeEndpoint, name: str, viewer: Viewer,
                        subscriptions: Sequence[Subscription], topic: str,
                        token: str | None = None) -> Listener:
    client = await realtime.connect(endpoint.url, endpoint.apikey, endpoint.vsn)
    try:
        changes = [rp.ChangeFilter(s.table, s.schema, s.event, s.filter)  # type: ignore[arg-type]
                   for s in subscriptions]
        channel = await client.join(topic, token or token_for(viewer, endpoint.jwt_secret),
                                    changes)
    except BaseException:
        await client.close()
        raise
    return Listener(Subscriber(name, tuple(subscriptions)), viewer, client, channel)


async def open_listeners(endpoint: RealtimeEndpoint, viewers: Mapping[str, Viewer],
                         run_id: str, subscriptions: Mapping[str, Sequence[Subscription]]
                         | None = None) -> list[Listener]:
    """One socket and channel per subscriber, each with its own token; every published
    table unless `subscriptions` says otherwise."""
    plans = subscriptions or {}
    return list(await asyncio.gather(*(
        open_listener(endpoint, name, viewer, plans.get(name, every_table()),
                      f"sober-{run_id}-{name}")
        for name, viewer in viewers.items())))


async def close_all(listeners: Iterable[Listener]) -> None:
    await asyncio.gather(*(listener.client.close() for listener in listeners),
                         return_exceptions=True)


def judge(changes: Sequence[Change], listeners: Sequence[Listener]) -> rd.DeliveryReport:
    return rd.judge(changes, [x.subscriber for x in listeners],
                    [d for x in listeners for d in x.deliveries()])


async def settle_and_judge(changes: Sequence[Change], listeners: Sequence[Listener], *,
                           timeout_s: float = 15.0, quiet_s: float = 1.0) -> rd.DeliveryReport:
    """Judge once every due change arrived (or at the deadline), after `quiet_s` more for
    late duplicates and leaks."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if judge(changes, listeners).count(rd.LOST) == 0:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(quiet_s)
    return judge(changes, listeners)


async def token_refresh_round(endpoint: RealtimeEndpoint, name: str, viewer: Viewer,
                              write: Callable[[], Sequence[Change]], topic: str,
                              lifetime_s: float = 4.0) -> list[str]:
    """Two listeners join with tokens that expire in `lifetime_s`; one sends a fresh token
    (event `access_token`) a third of the way in. Past the expiry the other must be shut by
    Realtime and the refreshed one still gets the changes `write` makes."""
    def short_token() -> str:
        claims = claims_for(viewer)
        claims["exp"] = int(time.time() + lifetime_s)
        return sign(claims, endpoint.jwt_secret)

    subs = (Subscription("posts"),)
    kept = await open_listener(endpoint, name, viewer, subs, f"{topic}-kept", short_token())
    lapsed = await open_listener(endpoint, f"{name}-lapsed", viewer, subs, f"{topic}-lapsed",
                                 short_token())
    problems: list[str] = []
    try:
        await asyncio.sleep(lifetime_s / 3)
        await kept.client.push(lambda: kept.client.session.refresh_token(
            token_for(viewer, endpoint.jwt_secret)))
        await asyncio.sleep(lifetime_s * 2 / 3 + 2.0)
        if lapsed.channel.joined:
            problems.append(f"{lapsed.subscriber.name}: channel still open after its token "
                            "expired")
        elif not any(n.status == "error" for n in lapsed.channel.system):
            problems.append(f"{lapsed.subscriber.name}: closed without a system error")
        if not kept.channel.joined:
            problems.append(f"{name}: channel shut although its token was refreshed "
                            f"({kept.channel.reason})")
            return problems
        changes = await asyncio.to_thread(write)
        report = await settle_and_judge(changes, [kept], timeout_s=10.0, quiet_s=0.5)
        problems += [f"after the refresh: {f}" for f in report.findings]
        if report.expected == 0:
            problems.append("the write after the refresh concerned nothing the listener sees")
    finally:
        await close_all([kept, lapsed])
    return problems
