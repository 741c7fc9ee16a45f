"""The part of Supabase Realtime's Phoenix channel protocol a load client speaks.

Used by: `locust -f loadtests/realtime.py`.

Pure: message encoding for both serializer versions, the `phx_join` payload for
`postgres_changes`, heartbeat bookkeeping and fan-out latency. No sockets here; the locust
file `loadtests/realtime.py` moves the frames.

Wire shapes (Realtime's V1/V2 serializers):
- vsn 1.0.0: a JSON object `{"topic", "event", "payload", "ref", "join_ref"}`;
- vsn 2.0.0: a JSON array `[join_ref, ref, topic, event, payload]` (binary frames are used only
  for user broadcasts, which this client never asks for).
Replies are event `phx_reply` with payload `{"status": "ok"|"error", "response": {...}}`.
Change events are event `postgres_changes` with payload `{"ids": [...], "data": {"schema",
"table", "type", "commit_timestamp", "record", "old_record", "columns", "errors"}}`; once the
database listener is attached the channel gets a `system` event with `extension:
"postgres_changes"`, `status: "ok"`.
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


def decode(frame: str | bytes, vsn: Vsn) -> Message:
    if isinstance(frame, bytes):
        try:
            frame = frame.decode()
        except UnicodeDecodeError:
            raise ProtocolError("binary frame (user broadcast) is not handled") from None
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
@dataclasses.dataclass(frozen=True)
class ChangeEvent:
    schema: str
    table: str
    type: str
    commit_timestamp: dt.datetime | None
    record: dict[str, Any]
    ids: tuple[int, ...] = ()


def change_event(message: Message) -> ChangeEvent | None:
    if message.event != POSTGRES_CHANGES:
        return None
    data = message.payload.get("data")
    if not isinstance(data, dict):
        raise ProtocolError("postgres_changes event without a data object")
    raw_ts = data.get("commit_timestamp")
    record = data.get("record")
    return ChangeEvent(
        schema=str(data.get("schema", "")),
        table=str(data.get("table", "")),
        type=str(data.get("type", data.get("eventType", ""))),
        commit_timestamp=parse_timestamp(raw_ts) if isinstance(raw_ts, str) else None,
        record=record if isinstance(record, dict) else {},
        ids=tuple(int(i) for i in message.payload.get("ids", []) if isinstance(i, int)),
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
                   committed: dt.datetime, schema: str = "public", kind: str = "INSERT"
                   ) -> Message:
    """A `postgres_changes` push as Realtime sends it (for tests of the client side)."""
    return Message(channel_topic(topic), POSTGRES_CHANGES, {
        "ids": list(ids),
        "data": {
            "schema": schema,
            "table": table,
            "type": kind,
            "commit_timestamp": format_timestamp(committed),
            "record": dict(record),
            "old_record": {},
            "columns": [{"name": k, "type": "text"} for k in record],
            "errors": None,
        },
    })
