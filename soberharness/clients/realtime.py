"""Supabase Realtime's Phoenix channel protocol, as Realtime implements it.

Used by: suites/realtime (asyncio transport, `realtime_async`), `locust -f
loadtests/realtime.py` and the capacity bench (blocking transport, `realtime_sync`, which is
gevent-friendly). Both move frames only; everything the protocol says lives here: message
encoding for both serializer versions, the `phx_join` payload, heartbeats, and
`RealtimeSession`, a sans-IO state machine that turns incoming frames into channel state
(join replies, postgres changes, broadcasts, presence, system messages, acks, closes).

Wire shapes (Realtime's V1/V2 serializers):
- vsn 1.0.0: a JSON object `{"topic", "event", "payload", "ref", "join_ref"}`;
- vsn 2.0.0: a JSON array `[join_ref, ref, topic, event, payload]`; broadcasts sent as JSON are
  relayed as JSON, binary user broadcasts as a binary frame (`decode_user_broadcast`).
Replies are event `phx_reply` with payload `{"status": "ok"|"error", "response": {...}}`; a
refused join answers `{"status": "error", "response": {"reason": "..."}}`.
Change events are event `postgres_changes` with payload `{"ids": [...], "data": {"schema",
"table", "type", "commit_timestamp", "record", "old_record", "columns", "errors"}}`; once the
database listener is attached the channel gets a `system` event with `extension:
"postgres_changes"`, `status: "ok"`. A channel Realtime shuts (expired or refused token on
`access_token`, token expiry while joined) gets a `system` event with `status: "error"`
followed by `phx_close`.

What Realtime does (read from supabase/realtime and supabase/walrus):
- `broadcast`: the client sends event `broadcast` with payload `{"type": "broadcast",
  "event", "payload"}`; every other member of the topic receives it as event `broadcast` with
  the same payload; the sender too only with `config.broadcast.self`; with
  `config.broadcast.ack` the sender gets a `phx_reply` ok for its push.
- `presence`: the client sends event `presence` with payload `{"type": "presence", "event":
  "track"|"untrack", "payload": meta}` and gets a `phx_reply` ok; members get
  `presence_diff` `{"joins": {key: {"metas": [...]}}, "leaves": {...}}`; a joined channel
  gets `presence_state` `{key: {"metas": [...]}}`. The key is `config.presence.key` (a random
  one when empty).
- `access_token`: event `access_token` with payload `{"access_token": jwt}` replaces the
  channel's claims (RLS of later changes uses them); the same token again is ignored.
- postgres_changes: INSERT and UPDATE are re-read under the subscriber's role and claims (RLS);
  DELETE is not (no RLS check): it reaches every subscriber of the table whose filter can be
  judged on the primary key, and `old_record` holds the primary key only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from soberharness.records.realtime import ChangeEvent

Vsn = Literal["1.0.0", "2.0.0"]
VSN_1: Vsn = "1.0.0"
VSN_2: Vsn = "2.0.0"
PHOENIX_TOPIC = "phoenix"
HEARTBEAT_INTERVAL_S = 25.0  # Realtime closes sockets silent for longer than about 60 s

PHX_JOIN = "phx_join"
PHX_LEAVE = "phx_leave"
PHX_REPLY = "phx_reply"
PHX_ERROR = "phx_error"
PHX_CLOSE = "phx_close"
HEARTBEAT = "heartbeat"
POSTGRES_CHANGES = "postgres_changes"
SYSTEM = "system"

MARKER_PREFIX = "sober-load"
_MARKER = re.compile(rf"{MARKER_PREFIX}:([A-Za-z0-9_-]+):(\d+)")


class ProtocolError(ValueError):
    """A frame that is not a Phoenix channel message of the expected version."""


@dataclasses.dataclass(frozen=True)
class Message:
    topic: str
    event: str
    payload: dict[str, Any]
    ref: str | None = None
    join_ref: str | None = None


def encode(message: Message, vsn: Vsn) -> str:
    if vsn == VSN_1:
        return json.dumps({
            "topic": message.topic,
            "event": message.event,
            "payload": message.payload,
            "ref": message.ref,
            "join_ref": message.join_ref,
        }, separators=(",", ":"))
    if vsn == VSN_2:
        return json.dumps([message.join_ref, message.ref, message.topic, message.event,
                           message.payload], separators=(",", ":"))
    raise ProtocolError(f"unknown serializer version {vsn!r}")


USER_BROADCAST_FRAME = 4  # Realtime's V2Serializer: the kind byte of a binary user broadcast


def decode_user_broadcast(frame: bytes) -> Message:
    """A vsn 2.0.0 binary user broadcast: kind 4, then the sizes of topic, event and metadata
    (one byte each), the payload encoding (1 JSON, 0 binary), then those fields and the
    payload. Returned as the JSON form of a broadcast (binary payloads as hex)."""
    if len(frame) < 5 or frame[0] != USER_BROADCAST_FRAME:
        raise ProtocolError("binary frame that is not a user broadcast")
    topic_n, event_n, meta_n, encoding = frame[1], frame[2], frame[3], frame[4]
    at = 5
    fields = []
    for size in (topic_n, event_n, meta_n):
        fields.append(frame[at:at + size])
        at += size
    if at > len(frame):
        raise ProtocolError("truncated binary user broadcast")
    topic, event, meta = fields
    body = frame[at:]
    try:
        payload: Any = json.loads(body) if encoding == 1 else {"binary": body.hex()}
        metadata = json.loads(meta) if meta else {}
        return Message(topic.decode(), "broadcast", {
            "type": "broadcast", "event": event.decode(),
            "payload": payload if isinstance(payload, dict) else {"value": payload},
            "meta": metadata})
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("undecodable binary user broadcast") from None


def decode(frame: str | bytes, vsn: Vsn) -> Message:
    if isinstance(frame, bytes):
        if vsn == VSN_2 and frame[:1] == bytes([USER_BROADCAST_FRAME]):
            return decode_user_broadcast(frame)
        try:
            frame = frame.decode()
        except UnicodeDecodeError:
            raise ProtocolError("binary frame of an unknown kind") from None
    try:
        data = json.loads(frame)
    except ValueError:
        raise ProtocolError(f"not JSON: {frame[:80]!r}") from None
    if vsn == VSN_1:
        if not isinstance(data, dict) or not {"topic", "event", "payload"} <= data.keys():
            raise ProtocolError(f"expected a vsn 1.0.0 object, got {frame[:80]!r}")
        join_ref, ref, topic, event, payload = (
            data.get("join_ref"), data.get("ref"), data["topic"], data["event"], data["payload"]
        )
    elif vsn == VSN_2:
        if not isinstance(data, list) or len(data) < 5:
            raise ProtocolError(f"expected a vsn 2.0.0 array, got {frame[:80]!r}")
        join_ref, ref, topic, event, payload = data[:5]
    else:
        raise ProtocolError(f"unknown serializer version {vsn!r}")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise ProtocolError(f"topic and event must be strings: {frame[:80]!r}")
    if not isinstance(payload, dict):
        raise ProtocolError(f"payload must be an object: {frame[:80]!r}")
    return Message(topic, event, payload, _ref(ref), _ref(join_ref))


def _ref(value: Any) -> str | None:
    return None if value is None else str(value)


# -- URLs, topics, refs ------------------------------------------------------------------------
def socket_url(base: str, apikey: str, vsn: Vsn = VSN_1) -> str:
    """`<base>/websocket?apikey=…&vsn=…` with an http(s) base turned into ws(s).

    `base` is the Realtime base a target gives (`…/realtime/v1` through the gateway)."""
    parts = urlsplit(base.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ProtocolError(f"not a Realtime base URL: {base!r}")
    path = parts.path if parts.path.endswith("/websocket") else parts.path + "/websocket"
    query = urlencode({"apikey": apikey, "vsn": vsn})
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def channel_topic(name: str) -> str:
    return name if name.startswith("realtime:") else f"realtime:{name}"


def refs(start: int = 1) -> Iterator[str]:
    """Message refs as Phoenix clients send them: increasing integers, as strings."""
    return (str(n) for n in itertools.count(start))


# -- joining ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ChangeFilter:
    """One `postgres_changes` subscription: which events of which table (optionally a row
    filter `column=op.value`)."""

    table: str
    schema: str = "public"
    event: Literal["*", "INSERT", "UPDATE", "DELETE"] = "*"
    filter: str | None = None

    def as_config(self) -> dict[str, str]:
        config = {"event": self.event, "schema": self.schema, "table": self.table}
        if self.filter:
            config["filter"] = self.filter
        return config


def join_payload(changes: Sequence[ChangeFilter], access_token: str, *,
                 presence_key: str = "", broadcast_self: bool = False,
                 broadcast_ack: bool = False, private: bool = False) -> dict[str, Any]:
    """The `phx_join` payload: channel config plus the user's JWT (RLS applies per user)."""
    return {
        "config": {
            "broadcast": {"ack": broadcast_ack, "self": broadcast_self},
            "presence": {"key": presence_key},
            "postgres_changes": [c.as_config() for c in changes],
            "private": private,
        },
        "access_token": access_token,
    }


def join_message(topic: str, payload: dict[str, Any], ref: str) -> Message:
    """A join's ref doubles as the channel's join_ref for everything sent on it later."""
    return Message(channel_topic(topic), PHX_JOIN, payload, ref=ref, join_ref=ref)


def heartbeat_message(ref: str) -> Message:
    return Message(PHOENIX_TOPIC, HEARTBEAT, {}, ref=ref)


def leave_message(topic: str, ref: str, join_ref: str) -> Message:
    return Message(channel_topic(topic), PHX_LEAVE, {}, ref=ref, join_ref=join_ref)


@dataclasses.dataclass(frozen=True)
class Reply:
    ref: str | None
    status: str
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def as_reply(message: Message) -> Reply | None:
    if message.event != PHX_REPLY:
        return None
    response = message.payload.get("response")
    return Reply(message.ref, str(message.payload.get("status", "")),
                 response if isinstance(response, dict) else {})


def is_changes_ready(message: Message) -> bool:
    """Realtime's `system` event telling that the postgres_changes listener is attached."""
    p = message.payload
    return (message.event == SYSTEM and p.get("extension") == POSTGRES_CHANGES
            and p.get("status") == "ok")


# -- heartbeats ---------------------------------------------------------------------------------
@dataclasses.dataclass
class HeartbeatSchedule:
    """When to send the next heartbeat and which ones are still unanswered. Times are
    monotonic seconds supplied by the caller."""

    interval_s: float = HEARTBEAT_INTERVAL_S
    started_at: float = 0.0
    last_sent: float | None = None
    pending: dict[str, float] = dataclasses.field(default_factory=dict)

    def next_at(self) -> float:
        return (self.started_at if self.last_sent is None else self.last_sent) + self.interval_s

    def due(self, now: float) -> bool:
        return now >= self.next_at()

    def sent(self, ref: str, now: float) -> None:
        self.last_sent = now
        self.pending[ref] = now

    def replied(self, ref: str | None, now: float) -> float | None:
        """Round trip in seconds of the heartbeat `ref`, or None if it is not one of ours."""
        if ref is None or ref not in self.pending:
            return None
        return now - self.pending.pop(ref)

    def overdue(self, now: float, timeout_s: float) -> list[str]:
        """Heartbeats unanswered for longer than `timeout_s` (dropped from pending)."""
        late = [r for r, t in self.pending.items() if now - t > timeout_s]
        for ref in late:
            del self.pending[ref]
        return late


# -- change events and fan-out latency --------------------------------------------------------
def change_event(message: Message) -> ChangeEvent | None:
    if message.event != POSTGRES_CHANGES:
        return None
    data = message.payload.get("data")
    if not isinstance(data, dict):
        raise ProtocolError("postgres_changes event without a data object")
    raw_ts = data.get("commit_timestamp")
    record = data.get("record")
    old = data.get("old_record")
    errors = data.get("errors")
    return ChangeEvent(
        schema=str(data.get("schema", "")),
        table=str(data.get("table", "")),
        type=str(data.get("type", data.get("eventType", ""))),
        commit_timestamp=parse_timestamp(raw_ts) if isinstance(raw_ts, str) else None,
        record=record if isinstance(record, dict) else {},
        ids=tuple(int(i) for i in message.payload.get("ids", []) if isinstance(i, int)),
        old_record=old if isinstance(old, dict) else {},
        errors=tuple(str(e) for e in errors) if isinstance(errors, list) else (),
    )


def parse_timestamp(text: str) -> dt.datetime:
    """An ISO 8601 time as Realtime sends commit_timestamp (`…Z`, ms precision), as UTC."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ProtocolError(f"not an ISO 8601 timestamp: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def format_timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fanout_marker(run_id: str, sent_at: float) -> str:
    """Text a load post carries: the run and the client's wall-clock send time (ns)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", run_id):
        raise ValueError(f"run id {run_id!r} must be letters, digits, '_' or '-'")
    return f"{MARKER_PREFIX}:{run_id}:{round(sent_at * 1e9)}"


def parse_marker(body: str) -> tuple[str, float] | None:
    found = _MARKER.search(body)
    if found is None:
        return None
    return found.group(1), int(found.group(2)) / 1e9


@dataclasses.dataclass(frozen=True)
class FanoutLatency:
    """How long one change took to reach a subscriber.

    commit_ms: receive time minus the database commit time (two clocks: the server's and
    this machine's). send_ms: receive time minus the poster's send time (this machine's clock
    only, includes the REST insert). Negative values mean clock skew: they are clamped to 0
    and flagged."""

    commit_ms: float | None
    send_ms: float | None
    clock_skew: bool = False


def fanout_latency(event: ChangeEvent, received_at: float, run_id: str | None = None,
                   body_column: str = "body") -> FanoutLatency:
    """Latencies of `event` received at wall-clock `received_at` (epoch seconds). With
    `run_id`, only markers of that run count for send_ms."""
    skew = False
    commit_ms: float | None = None
    if event.commit_timestamp is not None:
        commit_ms = (received_at - event.commit_timestamp.timestamp()) * 1000.0
        if commit_ms < 0:
            skew, commit_ms = True, 0.0
    send_ms: float | None = None
    body = event.record.get(body_column)
    marker = parse_marker(body) if isinstance(body, str) else None
    if marker is not None and (run_id is None or marker[0] == run_id):
        send_ms = (received_at - marker[1]) * 1000.0
        if send_ms < 0:
            skew, send_ms = True, 0.0
    return FanoutLatency(commit_ms, send_ms, skew)


def change_message(topic: str, ids: Sequence[int], table: str, record: Mapping[str, Any],
                   committed: dt.datetime, schema: str = "public", kind: str = "INSERT",
                   old_record: Mapping[str, Any] | None = None) -> Message:
    """A `postgres_changes` push as Realtime sends it (for tests of the client side)."""
    return Message(channel_topic(topic), POSTGRES_CHANGES, {
        "ids": list(ids),
        "data": {
            "schema": schema,
            "table": table,
            "type": kind,
            "commit_timestamp": format_timestamp(committed),
            "record": dict(record),
            "old_record": dict(old_record or {}),
            "columns": [{"name": k, "type": "text"} for k in record],
            "errors": None,
        },
    })


# -- pushes on a joined channel ----------------------------------------------------------------
BROADCAST = "broadcast"
PRESENCE = "presence"
PRESENCE_STATE = "presence_state"
PRESENCE_DIFF = "presence_diff"
ACCESS_TOKEN = "access_token"


def broadcast_message(topic: str, event: str, payload: Mapping[str, Any], ref: str,
                      join_ref: str) -> Message:
    return Message(channel_topic(topic), BROADCAST,
                   {"type": BROADCAST, "event": event, "payload": dict(payload)},
                   ref=ref, join_ref=join_ref)


def presence_message(topic: str, kind: Literal["track", "untrack"], meta: Mapping[str, Any],
                     ref: str, join_ref: str) -> Message:
    return Message(channel_topic(topic), PRESENCE,
                   {"type": PRESENCE, "event": kind, "payload": dict(meta)},
                   ref=ref, join_ref=join_ref)


def access_token_message(topic: str, token: str, ref: str, join_ref: str) -> Message:
    return Message(channel_topic(topic), ACCESS_TOKEN, {"access_token": token}, ref=ref,
                   join_ref=join_ref)


# -- the session: one socket's channels as a state machine ------------------------------------
class ChannelState:
    JOINING = "joining"
    JOINED = "joined"
    REFUSED = "refused"  # the join got an error reply
    CLOSED = "closed"  # left, or shut by Realtime (phx_close / phx_error)


@dataclasses.dataclass(frozen=True)
class ReceivedChange:
    event: ChangeEvent
    received_at: float  # wall clock, epoch seconds


@dataclasses.dataclass(frozen=True)
class ReceivedBroadcast:
    event: str
    payload: dict[str, Any]
    received_at: float


@dataclasses.dataclass(frozen=True)
class SystemNotice:
    extension: str
    status: str
    message: str


@dataclasses.dataclass
class Presence:
    """The members of a channel's presence as the client sees them: key -> metas."""

    members: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    joins_seen: int = 0
    leaves_seen: int = 0

    def apply_state(self, payload: Mapping[str, Any]) -> None:
        self.members = {k: list(v.get("metas", [])) for k, v in payload.items()
                        if isinstance(v, dict)}

    def apply_diff(self, payload: Mapping[str, Any]) -> None:
        for key, entry in (payload.get("joins") or {}).items():
            self.joins_seen += 1
            metas = self.members.setdefault(key, [])
            for meta in entry.get("metas", []):
                if meta not in metas:
                    metas.append(meta)
        for key, entry in (payload.get("leaves") or {}).items():
            self.leaves_seen += 1
            refs = {m.get("phx_ref") for m in entry.get("metas", [])}
            kept = [m for m in self.members.get(key, []) if m.get("phx_ref") not in refs]
            if kept:
                self.members[key] = kept
            else:
                self.members.pop(key, None)

    def keys(self) -> frozenset[str]:
        return frozenset(self.members)


@dataclasses.dataclass
class Channel:
    """One joined topic on a session and everything received on it."""

    topic: str
    join_ref: str
    changes_config: tuple[ChangeFilter, ...]
    state: str = ChannelState.JOINING
    join_sent_at: float = 0.0  # monotonic
    join_rtt_s: float | None = None
    ready_at: float | None = None  # wall clock of the postgres_changes `system` ok
    reason: str = ""  # why it was refused or closed
    subscription_ids: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    changes: list[ReceivedChange] = dataclasses.field(default_factory=list)
    broadcasts: list[ReceivedBroadcast] = dataclasses.field(default_factory=list)
    presence: Presence = dataclasses.field(default_factory=Presence)
    system: list[SystemNotice] = dataclasses.field(default_factory=list)
    acks: dict[str, str] = dataclasses.field(default_factory=dict)  # push ref -> status
    pushes: dict[str, str] = dataclasses.field(default_factory=dict)  # push ref -> event

    @property
    def joined(self) -> bool:
        return self.state == ChannelState.JOINED


@dataclasses.dataclass(frozen=True)
class Incoming:
    """What one received frame meant, for callers that report (locust stats, logs).

    kind: join | heartbeat | ack | change | broadcast | presence | system | close | other."""

    kind: str
    channel: Channel | None
    message: Message
    rtt_s: float | None = None
    ok: bool = True


class RealtimeSession:
    """One socket's protocol state. Callers feed received frames to `receive` and send what
    `drain` returns; times are passed in (wall: epoch seconds, mono: monotonic seconds)."""

    def __init__(self, vsn: Vsn = VSN_1, heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
                 now: float = 0.0) -> None:
        self.vsn: Vsn = vsn
        self.refs = refs()
        self.heartbeats = HeartbeatSchedule(heartbeat_interval_s, now)
        self.channels: dict[str, Channel] = {}  # by join_ref
        self.outbox: list[str] = []
        self.unhandled: list[Message] = []

    # -- what the client sends --------------------------------------------------------------
    def _queue(self, message: Message) -> None:
        self.outbox.append(encode(message, self.vsn))

    def drain(self) -> list[str]:
        frames, self.outbox = self.outbox, []
        return frames

    def join(self, name: str, access_token: str, changes: Sequence[ChangeFilter] = (), *,
             presence_key: str = "", broadcast_self: bool = False, broadcast_ack: bool = False,
             private: bool = False, now: float = 0.0) -> Channel:
        ref = next(self.refs)
        payload = join_payload(changes, access_token, presence_key=presence_key,
                               broadcast_self=broadcast_self, broadcast_ack=broadcast_ack,
                               private=private)
        channel = Channel(channel_topic(name), ref, tuple(changes), join_sent_at=now)
        self.channels[ref] = channel
        self._queue(join_message(name, payload, ref))
        return channel

    def leave(self, channel: Channel) -> None:
        if channel.state in (ChannelState.JOINING, ChannelState.JOINED):
            self._queue(leave_message(channel.topic, next(self.refs), channel.join_ref))
        channel.state = ChannelState.CLOSED

    def _push(self, channel: Channel, build: Any, *args: Any) -> str:
        ref = next(self.refs)
        message = build(channel.topic, *args, ref, channel.join_ref)
        channel.pushes[ref] = message.event
        self._queue(message)
        return ref

    def broadcast(self, channel: Channel, event: str, payload: Mapping[str, Any]) -> str:
        return self._push(channel, broadcast_message, event, payload)

    def track(self, channel: Channel, meta: Mapping[str, Any]) -> str:
        return self._push(channel, presence_message, "track", meta)

    def untrack(self, channel: Channel) -> str:
        return self._push(channel, presence_message, "untrack", {})

    def refresh_token(self, access_token: str) -> list[str]:
        """Send the new token on every open channel (as supabase-js's setAuth does)."""
        return [self._push(c, access_token_message, access_token)
                for c in self.channels.values() if c.joined]

    def tick(self, now: float, heartbeat_timeout_s: float | None = None) -> list[str]:
        """Queue a heartbeat if one is due; return the refs of heartbeats left unanswered
        for longer than `heartbeat_timeout_s` (default: one interval)."""
        timeout = heartbeat_timeout_s if heartbeat_timeout_s is not None else max(
            10.0, self.heartbeats.interval_s)
        late = self.heartbeats.overdue(now, timeout)
        if self.heartbeats.due(now):
            ref = next(self.refs)
            self.heartbeats.sent(ref, now)
            self._queue(heartbeat_message(ref))
        return late

    # -- what the client receives -----------------------------------------------------------
    def channel_of(self, message: Message) -> Channel | None:
        if message.join_ref is not None and message.join_ref in self.channels:
            return self.channels[message.join_ref]
        # Pushes from the server may come without a join_ref (vsn 1): match the open topic.
        for channel in reversed(list(self.channels.values())):
            if channel.topic == message.topic and channel.state != ChannelState.CLOSED:
                return channel
        return None

    def receive(self, frame: str | bytes, wall: float, mono: float) -> Incoming:
        """Apply one frame to the session state and say what it was."""
        message = decode(frame, self.vsn)
        if message.topic == PHOENIX_TOPIC:
            reply = as_reply(message)
            rtt = self.heartbeats.replied(reply.ref if reply else None, mono)
            return Incoming("heartbeat", None, message, rtt, bool(reply and reply.ok))
        channel = self.channel_of(message)
        if channel is None:
            self.unhandled.append(message)
            return Incoming("other", None, message)
        reply = as_reply(message)
        if reply is not None:
            return self._reply(channel, message, reply, mono)
        event = message.event
        if event == POSTGRES_CHANGES:
            change = change_event(message)
            assert change is not None
            channel.changes.append(ReceivedChange(change, wall))
            return Incoming("change", channel, message)
        if event == BROADCAST:
            inner = message.payload.get("payload")
            channel.broadcasts.append(ReceivedBroadcast(
                str(message.payload.get("event", "")), inner if isinstance(inner, dict) else {},
                wall))
            return Incoming("broadcast", channel, message)
        if event == PRESENCE_STATE:
            channel.presence.apply_state(message.payload)
            return Incoming("presence", channel, message)
        if event == PRESENCE_DIFF:
            channel.presence.apply_diff(message.payload)
            return Incoming("presence", channel, message)
        if event == SYSTEM:
            p = message.payload
            notice = SystemNotice(str(p.get("extension", "")), str(p.get("status", "")),
                                  str(p.get("message", "")))
            channel.system.append(notice)
            if is_changes_ready(message) and channel.ready_at is None:
                channel.ready_at = wall
            if notice.status == "error" and not channel.reason:
                channel.reason = notice.message
            return Incoming("system", channel, message, ok=notice.status == "ok")
        if event in (PHX_CLOSE, PHX_ERROR):
            channel.state = ChannelState.CLOSED
            channel.reason = channel.reason or event
            return Incoming("close", channel, message, ok=False)
        self.unhandled.append(message)
        return Incoming("other", channel, message)

    def _reply(self, channel: Channel, message: Message, reply: Reply, mono: float) -> Incoming:
        if reply.ref == channel.join_ref and channel.state == ChannelState.JOINING:
            channel.join_rtt_s = mono - channel.join_sent_at
            if reply.ok:
                channel.state = ChannelState.JOINED
                for entry in reply.response.get("postgres_changes", []) or []:
                    if isinstance(entry, dict) and "id" in entry:
                        channel.subscription_ids[int(entry["id"])] = entry
            else:
                channel.state = ChannelState.REFUSED
                channel.reason = str(reply.response.get("reason", reply.response))
            return Incoming("join", channel, message, channel.join_rtt_s, reply.ok)
        if reply.ref is not None and reply.ref in channel.pushes:
            channel.acks[reply.ref] = reply.status
            return Incoming("ack", channel, message, ok=reply.ok)
        return Incoming("other", channel, message, ok=reply.ok)
