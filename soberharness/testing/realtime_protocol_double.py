"""`RealtimeProtocolDouble`: a test double of Supabase Realtime's websocket protocol.

Only for the harness's own tests of its Realtime client, checker and load logic (selftests,
the capacity bench). Not Realtime: no database, no WAL; the test publishes each committed
change and supplies the row-level check (`visible`) Realtime would run under the subscriber's
claims. It parses and builds frames itself (not with the code under test) and follows what
supabase/realtime and supabase/walrus do:

- socket `/realtime/v1/websocket?apikey=…&vsn=1.0.0|2.0.0`; heartbeats on `phoenix`;
- `phx_join` with `config` and `access_token`: the token must verify (HS256) and carry `role`
  and `exp`, else an error reply `{"reason": …}`; `private: true` needs `authorize_private`
  (default: refused as with no policy on realtime.messages); the ok reply lists the
  postgres_changes with ids; then `system` "Subscribed to PostgreSQL" and `presence_state`;
- postgres_changes: INSERT/UPDATE go to matching subscriptions whose claims pass `visible`
  and whose filter holds on the new record; DELETE skips the RLS check, carries the primary
  key only and reaches every subscriber of the table whose filter is on a key column or
  absent; one message per channel with the ids of every matching subscription;
- `broadcast` to the other members of the topic (the sender too with `self`), a reply with
  `ack`; `presence` track/untrack with `presence_diff` to every member;
- `access_token` replaces the claims; an invalid or expired one, or the token expiring while
  joined, shuts the channel: `system` error then `phx_close`.

Planted defects for the checker's tests (`Faults`): drop, duplicate or reorder a subscriber's
events, leak a table (skip the RLS check), send DELETEs with the whole old row.

Runs in a thread of the test process (`with RealtimeProtocolDouble(...) as double`), or as its
own process: `python -m soberharness.testing.realtime_protocol_double` (prints `port N`, stops
when its stdin closes or on SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

Claims = dict[str, Any]
Visible = Callable[[Claims, str, Mapping[str, Any]], bool]


@dataclasses.dataclass
class Faults:
    """Defects to plant. Subscribers are named by their token's `sub` (or role)."""

    drop: set[tuple[str, int]] = dataclasses.field(default_factory=set)  # (who, change no)
    duplicate: set[tuple[str, int]] = dataclasses.field(default_factory=set)
    leak: set[tuple[str, int]] = dataclasses.field(default_factory=set)  # skip RLS for who
    reorder: set[tuple[str, int]] = dataclasses.field(default_factory=set)  # send after next
    leak_tables: set[str] = dataclasses.field(default_factory=set)  # no RLS check at all
    delete_full_row: bool = False
    drop_every: int = 0  # drop every n-th change to everyone (load runs)
    no_self_broadcast: bool = False  # ignore config.broadcast.self
    no_presence_leave: bool = False  # a leaving member is never announced


@dataclasses.dataclass
class _Join:
    ws: ServerConnection
    vsn: str
    topic: str
    join_ref: Any
    claims: Claims
    token: str
    changes: list[dict[str, Any]]  # with "id"
    self_broadcast: bool
    ack: bool
    presence_key: str
    held: list[str] = dataclasses.field(default_factory=list)  # reorder fault
    closed: bool = False

    @property
    def who(self) -> str:
        return str(self.claims.get("sub") or self.claims.get("role"))


def _frame(vsn: str, join_ref: Any, ref: Any, topic: str, event: str, payload: Any) -> str:
    if vsn == "2.0.0":
        return json.dumps([join_ref, ref, topic, event, payload])
    return json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref,
                       "join_ref": join_ref})


def _passes(spec: str, row: Mapping[str, Any]) -> bool:
    column, _, rest = spec.partition("=")
    op, _, value = rest.partition(".")
    if column not in row or row[column] is None:
        return False
    have = str(row[column])
    if op == "eq":
        return have == value
    if op == "neq":
        return have != value
    if op == "in":
        return have in [v.strip() for v in value.strip("()").split(",")]
    try:
        a, b = float(have), float(value)
    except ValueError:
        return False
    return {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}.get(op, False)


class RealtimeProtocolDouble:
    def __init__(self, secret: str, anon_key: str | None = None, *,
                 visible: Visible | None = None,
                 primary_keys: Mapping[str, tuple[str, ...]] | None = None,
                 authorize_private: Callable[[Claims, str], bool] | None = None,
                 faults: Faults | None = None) -> None:
        self.secret = secret
        self.anon_key = anon_key
        self.visible: Visible = visible or (lambda claims, table, row: True)
        self.primary_keys = dict(primary_keys or {})
        self.authorize_private = authorize_private or (lambda claims, topic: False)
        self.faults = faults or Faults()
        self.joined: list[tuple[str, str, dict[str, Any]]] = []  # (vsn, topic, payload)
        self.joins: list[_Join] = []
        self.heartbeats = 0
        self.published = 0
        self.problems: list[str] = []
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self._ids = itertools.count(1)
        self._phx_refs = itertools.count(1)
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/realtime/v1"

    def __enter__(self) -> RealtimeProtocolDouble:
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("realtime protocol double did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=10)

    async def _main(self, port: int = 0) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._session, "127.0.0.1", port, max_size=2**24) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            expiry = asyncio.create_task(self._expire_tokens())
            self.ready.set()
            await self._stop.wait()
            expiry.cancel()

    def _claims(self, token: str) -> tuple[Claims | None, str]:
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"],
                                options={"verify_aud": False, "require": ["exp"]})
        except jwt.ExpiredSignatureError:
            return None, "Token has expired"
        except jwt.PyJWTError as exc:
            return None, f"Failed to validate JWT signature: {exc}"
        if "role" not in claims:
            return None, "Fields `role` and `exp` are required in JWT"
        return claims, ""

    async def _session(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        parts = urlsplit(ws.request.path)
        query = parse_qs(parts.query)
        vsn = query.get("vsn", ["1.0.0"])[0]
        apikey_ok = self.anon_key is None or query.get("apikey") == [self.anon_key]
        if parts.path != "/realtime/v1/websocket" or not apikey_ok:
            self.problems.append(f"bad socket URL {parts.path}")
            await ws.close(code=4001)
            return
        try:
            async for raw in ws:
                data = json.loads(raw)
                if vsn == "2.0.0":
                    join_ref, ref, topic, event, payload = data
                else:
                    join_ref, ref, topic, event, payload = (
                        data.get("join_ref"), data["ref"], data["topic"], data["event"],
                        data["payload"])
                await self._on_message(ws, vsn, join_ref, ref, topic, event, payload)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a broken client frame: record it, drop the socket
            self.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            for j in [j for j in self.joins if j.ws is ws]:
                await self._close(j, notify=False)

    async def _send(self, j: _Join, ref: Any, event: str, payload: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            await j.ws.send(_frame(j.vsn, j.join_ref, ref, j.topic, event, payload))

    async def _on_message(self, ws: ServerConnection, vsn: str, join_ref: Any, ref: Any,
                          topic: str, event: str, payload: dict[str, Any]) -> None:
        ok = {"status": "ok", "response": {}}
        if topic == "phoenix" and event == "heartbeat":
            self.heartbeats += 1
            await ws.send(_frame(vsn, None, ref, "phoenix", "phx_reply", ok))
            return
        if event == "phx_join":
            await self._join(ws, vsn, join_ref, ref, topic, payload)
            return
        j = next((j for j in self.joins if j.ws is ws and j.topic == topic and not j.closed),
                 None)
        if j is None:
            await ws.send(_frame(vsn, join_ref, ref, topic, "phx_reply",
                                 {"status": "error", "response": {"reason": "unmatched topic"}}))
            return
        if event == "phx_leave":
            await self._send(j, ref, "phx_reply", ok)
            await self._close(j, notify=False)
        elif event == "broadcast":
            to_self = j.self_broadcast and not self.faults.no_self_broadcast
            others = [o for o in self.joins if o.topic == topic and not o.closed
                      and (o is not j or to_self)]
            for o in others:
                await self._send(o, None, "broadcast", payload)
            if j.ack:
                await self._send(j, ref, "phx_reply", ok)
        elif event == "presence":
            await self._presence(j, ref, payload)
        elif event == "access_token":
            token = str(payload.get("access_token") or "")
            if token and token != j.token:
                claims, why = self._claims(token)
                if claims is None:
                    await self._shut(j, why)
                    return
                j.claims, j.token = claims, token
        else:
            self.problems.append(f"unexpected {event} on {topic}")

    async def _join(self, ws: ServerConnection, vsn: str, join_ref: Any, ref: Any, topic: str,
                    payload: dict[str, Any]) -> None:
        def refuse(reason: str) -> str:
            return _frame(vsn, join_ref, ref, topic, "phx_reply",
                          {"status": "error", "response": {"reason": reason}})

        if topic == "realtime:":
            await ws.send(refuse("You must provide a topic name"))
            return
        token = str(payload.get("access_token") or self.anon_key or "")
        claims, why = self._claims(token)
        if claims is None:
            await ws.send(refuse(why))
            return
        config = payload.get("config") or {}
        if config.get("private") and not self.authorize_private(claims, topic):
            await ws.send(refuse("Start channel error: You do not have permissions to read "
                                 f"from this Channel topic: {topic.removeprefix('realtime:')}"))
            return
        changes = [{"id": next(self._ids)} | dict(c) for c in config.get("postgres_changes", [])]
        key = (config.get("presence") or {}).get("key") or str(uuid.uuid1())
        broadcast_cfg = config.get("broadcast") or {}
        j = _Join(ws, vsn, topic, join_ref, claims, token, changes,
                  bool(broadcast_cfg.get("self")), bool(broadcast_cfg.get("ack")), key)
        self.joined.append((vsn, topic, payload))
        self.joins.append(j)
        await self._send(j, ref, "phx_reply", {"status": "ok",
                                               "response": {"postgres_changes": changes}})
        if changes:
            await self._send(j, None, "system", {
                "extension": "postgres_changes", "status": "ok", "channel":
                topic.removeprefix("realtime:"), "message": "Subscribed to PostgreSQL"})
        await self._send(j, None, "presence_state", self._presence_state(topic))

    # -- presence -----------------------------------------------------------------------------
    def _presence_state(self, topic: str) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for o in self.joins:
            meta = getattr(o, "meta", None)
            if o.topic == topic and not o.closed and meta is not None:
                state.setdefault(o.presence_key, {"metas": []})["metas"].append(meta)
        return state

    async def _presence(self, j: _Join, ref: Any, payload: dict[str, Any]) -> None:
        kind = str(payload.get("event", "")).lower()
        old = getattr(j, "meta", None)
        joins: dict[str, Any] = {}
        leaves: dict[str, Any] = {}
        if kind == "track":
            meta = dict(payload.get("payload") or {}) | {"phx_ref": f"F{next(self._phx_refs)}"}
            j.meta = meta  # type: ignore[attr-defined]
            joins = {j.presence_key: {"metas": [meta]}}
            if old is not None:
                leaves = {j.presence_key: {"metas": [old]}}
        elif kind == "untrack" and old is not None:
            j.meta = None  # type: ignore[attr-defined]
            leaves = {j.presence_key: {"metas": [old]}}
        elif kind != "untrack":
            await self._send(j, ref, "phx_reply", {"status": "error", "response": {}})
            return
        await self._send(j, ref, "phx_reply", {"status": "ok", "response": {}})
        if joins or leaves:
            await self._to_topic(j.topic, "presence_diff", {"joins": joins, "leaves": leaves})

    async def _to_topic(self, topic: str, event: str, payload: Any) -> None:
        for o in [o for o in self.joins if o.topic == topic and not o.closed]:
            await self._send(o, None, event, payload)

    async def _close(self, j: _Join, notify: bool) -> None:
        if j.closed:
            return
        j.closed = True
        meta = getattr(j, "meta", None)
        if meta is not None and not self.faults.no_presence_leave:
            await self._to_topic(j.topic, "presence_diff",
                                 {"joins": {}, "leaves": {j.presence_key: {"metas": [meta]}}})
        if notify:
            await self._send(j, j.join_ref, "phx_close", {})

    async def _shut(self, j: _Join, message: str) -> None:
        await self._send(j, None, "system", {"extension": "system", "status": "error",
                                             "message": message,
                                             "channel": j.topic.removeprefix("realtime:")})
        await self._close(j, notify=True)

    async def _expire_tokens(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            now = time.time()
            for j in [j for j in self.joins if not j.closed]:
                exp = j.claims.get("exp")
                if isinstance(exp, int | float) and exp <= now:
                    await self._shut(j, f"Token has expired {int(now - exp)} seconds ago")

    # -- postgres changes -------------------------------------------------------------------
    def publish(self, table: str, kind: str, record: Mapping[str, Any],
                old_record: Mapping[str, Any] | None = None, schema: str = "public",
                committed: dt.datetime | None = None) -> None:
        """A committed change, fanned out as Realtime would (callable from any thread)."""
        if self.loop is None:
            raise RuntimeError("double not started")
        when = committed or dt.datetime.now(dt.UTC)
        future = asyncio.run_coroutine_threadsafe(
            self._fan_out(schema, table, kind, dict(record), dict(old_record or {}), when),
            self.loop)
        future.result(timeout=10)

    def push_insert(self, record: dict[str, Any]) -> None:
        """An INSERT into public.posts of `record` (with a fresh id), for the locust runs."""
        self.publish("posts", "INSERT", record | {"id": record.get("id") or str(uuid.uuid4())})

    def _key(self, table: str) -> tuple[str, ...]:
        return self.primary_keys.get(table, ("id",))

    async def _fan_out(self, schema: str, table: str, kind: str, record: dict[str, Any],
                       old: dict[str, Any], committed: dt.datetime) -> None:
        self.published += 1
        n = self.published
        f = self.faults
        if f.drop_every and n % f.drop_every == 0:
            return
        key = self._key(table)
        if kind == "DELETE" and not f.delete_full_row:
            old = {c: old[c] for c in key if c in old}
        stamp = committed.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        data = {"schema": schema, "table": table, "type": kind,
                "commit_timestamp": stamp.replace("+00:00", "Z"),
                "record": {} if kind == "DELETE" else record, "old_record": old,
                "columns": [{"name": c, "type": "text"} for c in (record or old)],
                "errors": None}
        for j in [j for j in self.joins if not j.closed]:
            ids = [c["id"] for c in j.changes if self._wants(c, schema, table, kind, record, old)]
            if not ids:
                continue
            rls_skipped = table in f.leak_tables or (j.who, n) in f.leak
            if kind != "DELETE" and not rls_skipped and not self.visible(j.claims, table,
                                                                          record):
                continue
            if (j.who, n) in f.drop:
                continue
            frame = _frame(j.vsn, j.join_ref, None, j.topic, "postgres_changes",
                           {"ids": ids, "data": data})
            if (j.who, n) in f.reorder:
                j.held.append(frame)
                continue
            frames = [frame] * (2 if (j.who, n) in f.duplicate else 1) + j.held
            j.held = []
            for one in frames:
                with contextlib.suppress(ConnectionClosed):
                    await j.ws.send(one)

    def _wants(self, spec: Mapping[str, Any], schema: str, table: str, kind: str,
               record: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
        if spec.get("schema", "public") != schema or spec.get("table") not in (table, "*"):
            return False
        if spec.get("event", "*") not in ("*", kind):
            return False
        rule = spec.get("filter")
        if not rule:
            return True
        if kind == "DELETE":
            return str(rule).split("=", 1)[0] in self._key(table) and _passes(str(rule), old)
        return _passes(str(rule), record)

    def flood(self, topic: str, messages: int, size: int = 64) -> float:
        """Send `messages` broadcasts to every member of `topic` as fast as possible (the
        capacity bench); returns the seconds it took the double to send them."""
        if self.loop is None:
            raise RuntimeError("double not started")
        future = asyncio.run_coroutine_threadsafe(self._flood(topic, messages, size), self.loop)
        return float(future.result(timeout=600))

    async def _flood(self, topic: str, messages: int, size: int) -> float:
        began = time.perf_counter()
        members = [j for j in self.joins if j.topic == topic and not j.closed]
        by_vsn: dict[str, list[ServerConnection]] = {}
        for j in members:
            by_vsn.setdefault(j.vsn, []).append(j.ws)
        pad = "x" * size
        for n in range(messages):
            payload = {"type": "broadcast", "event": "flood", "payload": {"n": n, "pad": pad}}
            for vsn, sockets in by_vsn.items():
                broadcast(sockets, _frame(vsn, None, None, topic, "broadcast", payload))
            if n % 20 == 0:
                await asyncio.sleep(0)
        return time.perf_counter() - began


def main() -> None:
    """Own process: secret from SOBER_DOUBLE_JWT_SECRET; control lines on stdin
    (`flood <topic> <messages> <size>` answers `flooded <seconds>`; EOF stops)."""
    secret = os.environ.get("SOBER_DOUBLE_JWT_SECRET", "")
    if not secret:
        print("realtime double: SOBER_DOUBLE_JWT_SECRET is not set", file=sys.stderr)
        raise SystemExit(2)
    with RealtimeProtocolDouble(secret) as double:
        print(f"port {double.port}", flush=True)
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["flood"] and len(words) == 4:
                took = double.flood(words[1], int(words[2]), int(words[3]))
                print(f"flooded {took:.6f}", flush=True)
            elif words[:1] == ["members"]:
                print(f"members {sum(1 for j in double.joins if not j.closed)}", flush=True)


if __name__ == "__main__":
    main()
