"""What a Realtime load run saw, gathered across locust processes, handed to the checker.

Pure (no locust import). Each process records the posts its writers committed and the events
its subscribers received; workers hand `take_batch()` to the master every second, which
`merge`s them; at the end `judge` runs the delivery checker (soberharness.checker.
realtime_delivery) exactly as suites/realtime does, and its `violations` fail the run.

The load world's users are public and block no one (rest_load.load_world), so every
subscriber may see every post: a post must reach each subscriber that was listening when it
was sent, unless it was sent in the last `drain_s` seconds of the run (not judged, but a
duplicate or a foreign table still counts).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from soberharness.checker import realtime_delivery as rd
from soberharness.clients.realtime import format_timestamp, parse_timestamp
from soberharness.records.realtime import Change, ChangeEvent, Delivery, Subscriber, Subscription

TABLE = "posts"


@dataclasses.dataclass
class FanoutCollector:
    changes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    subscribers: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    _unsent_changes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    _unsent_subs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    # -- recording (one process) ------------------------------------------------------------
    def change(self, post_id: str, author_id: str, sent_at: float, acked_at: float) -> None:
        row = {"id": post_id, "author_id": author_id, "sent_at": sent_at, "acked_at": acked_at}
        self.changes.append(row)
        self._unsent_changes.append(row)

    def _sub(self, store: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
        return store.setdefault(name, {"ready_at": None, "events": []})

    def ready(self, name: str, at: float) -> None:
        for store in (self.subscribers, self._unsent_subs):
            self._sub(store, name)["ready_at"] = at

    def event(self, name: str, event: ChangeEvent, received_at: float) -> None:
        row = event.row
        compact = [event.type, event.table, str(row.get("id", "")),
                   format_timestamp(event.commit_timestamp) if event.commit_timestamp else None,
                   received_at, sorted(event.old_record)]
        for store in (self.subscribers, self._unsent_subs):
            self._sub(store, name)["events"].append(compact)

    # -- moving between processes -----------------------------------------------------------
    def take_batch(self) -> dict[str, Any]:
        batch = {"changes": self._unsent_changes, "subscribers": self._unsent_subs}
        self._unsent_changes, self._unsent_subs = [], {}
        return batch

    def merge(self, batch: dict[str, Any]) -> None:
        self.changes += batch.get("changes", [])
        for name, sub in batch.get("subscribers", {}).items():
            mine = self._sub(self.subscribers, name)
            if sub.get("ready_at") is not None:
                mine["ready_at"] = sub["ready_at"]
            mine["events"] += sub.get("events", [])

    # -- judging ----------------------------------------------------------------------------
    def judge(self, end_at: float, drain_s: float) -> rd.DeliveryReport:
        names = frozenset(self.subscribers)
        ordered = sorted(self.changes, key=lambda c: c["sent_at"])
        changes = [Change(n, TABLE, "INSERT", (("id", c["id"]),),
                             {"id": c["id"], "author_id": c["author_id"]}, names, c["sent_at"])
                   for n, c in enumerate(ordered, start=1)]
        subscribers = []
        deliveries = []
        for name, sub in self.subscribers.items():
            ready = sub["ready_at"]
            window = (ready, end_at - drain_s) if ready is not None else (end_at, end_at - 1)
            subscribers.append(Subscriber(name, (Subscription(TABLE, "INSERT"),),
                                             window))
            for kind, table, rid, stamp, received_at, old_keys in sub["events"]:
                key_row = {"id": rid}
                event = ChangeEvent("public", table, kind,
                                    parse_timestamp(stamp) if stamp else None,
                                    {} if kind == "DELETE" else key_row, (),
                                    {k: rid for k in old_keys} if kind == "DELETE" else {})
                deliveries.append(Delivery(name, event, received_at))
        return rd.judge(changes, subscribers, deliveries)
