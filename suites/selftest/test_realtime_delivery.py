"""The Realtime delivery checker: a clean run passes; a lost, a duplicated, a leaked and a
reordered event are each reported as exactly that event and subscriber; DELETE and filters are
judged as Realtime documents them."""

from __future__ import annotations

import datetime as dt

import pytest

from soberharness.checker import realtime_delivery as rd
from soberharness.records.realtime import (
    Change,
    ChangeEvent,
    Delivery,
    RowFilter,
    Subscriber,
    Subscription,
)

T0 = 1_767_225_600.0
POST_A = "a0000000-0000-4000-8000-00000000000a"
POST_B = "b0000000-0000-4000-8000-00000000000b"
AUTHOR = "u1"
ALL = frozenset({"follower", "stranger", "anon"})


def _change(seq: int, kind: str, post: str, body: str | None, visible: frozenset[str]
            ) -> Change:
    row = {"id": post, "author_id": AUTHOR} | ({"body": body} if body is not None else {})
    return Change(seq, "posts", kind, (("id", post),), row, visible, T0 + seq)


CHANGES = [
    _change(1, "INSERT", POST_A, "hello", ALL),
    _change(2, "UPDATE", POST_A, "hello again", ALL),
    _change(3, "INSERT", POST_B, "followers only", frozenset({"follower"})),
    _change(4, "DELETE", POST_A, None, frozenset()),
]
SUBSCRIBERS = [Subscriber(n, (Subscription("posts"),)) for n in ("follower", "stranger")]


def _event(change: Change, old: dict[str, str] | None = None) -> ChangeEvent:
    committed = dt.datetime.fromtimestamp(change.committed_at or T0, dt.UTC)
    if change.type == "DELETE":
        return ChangeEvent("public", "posts", "DELETE", committed, {}, (1,),
                           old if old is not None else dict(change.key))
    return ChangeEvent("public", "posts", change.type, committed, dict(change.row), (1,),
                       dict(change.key))


def _clean() -> list[Delivery]:
    out = []
    for sub in ("follower", "stranger"):
        for change in CHANGES:
            if change.type == "DELETE" or sub in change.visible_to:
                out.append(Delivery(sub, _event(change), (change.committed_at or 0) + 0.05))
    return out


def test_a_clean_run_passes_with_latency() -> None:
    report = rd.judge(CHANGES, SUBSCRIBERS, _clean())
    assert report.findings == []
    assert (report.expected, report.delivered) == (7, 7)  # follower 4, stranger 3
    summary = report.summary()
    assert summary["passed"] is True and summary["lost"] == 0
    assert summary["latency_ms"]["p50"] == pytest.approx(50.0, abs=0.5)


def test_a_lost_event_is_reported_as_that_event_and_subscriber() -> None:
    deliveries = [d for d in _clean()
                  if not (d.subscriber == "follower" and d.event.record.get("id") == POST_B)]
    report = rd.judge(CHANGES, SUBSCRIBERS, deliveries)
    assert report.findings == [rd.Finding(rd.LOST, "follower", CHANGES[2].label)]
    assert str(report.findings[0]) == f"lost: follower <- #3 INSERT posts(id={POST_B})"


def test_a_duplicated_event_is_reported_as_that_event_and_subscriber() -> None:
    deliveries = _clean()
    twice = next(d for d in deliveries if d.subscriber == "stranger"
                 and d.event.type == "UPDATE")
    deliveries.append(Delivery("stranger", twice.event, twice.received_at + 0.01))
    report = rd.judge(CHANGES, SUBSCRIBERS, deliveries)
    assert report.findings == [rd.Finding(rd.DUPLICATE, "stranger", CHANGES[1].label,
                                          "arrived 2 times")]


def test_a_leaked_event_is_reported_as_that_event_and_subscriber() -> None:
    deliveries = [*_clean(), Delivery("stranger", _event(CHANGES[2]), T0 + 3.05)]
    report = rd.judge(CHANGES, SUBSCRIBERS, deliveries)
    assert report.findings == [rd.Finding(rd.LEAK, "stranger", CHANGES[2].label,
                                          "the access model refuses the row")]


def test_a_reordered_event_is_reported_as_that_event_and_subscriber() -> None:
    deliveries = _clean()
    for i, d in enumerate(deliveries):  # the follower gets the UPDATE before the INSERT
        first_insert = d.event.type == "INSERT" and d.event.record["id"] == POST_A
        if d.subscriber == "follower" and first_insert:
            deliveries[i] = Delivery("follower", d.event, T0 + 2.5)
    report = rd.judge(CHANGES, SUBSCRIBERS, deliveries)
    assert report.findings == [rd.Finding(rd.REORDERED, "follower", CHANGES[0].label,
                                          f"arrived after {CHANGES[1].label}")]


def test_delete_reaches_every_subscriber_with_the_key_only() -> None:
    # No RLS on DELETE: the stranger who never saw POST_B still gets its DELETE.
    delete_b = _change(5, "DELETE", POST_B, None, frozenset())
    changes = [*CHANGES, delete_b]
    missing = rd.judge(changes, SUBSCRIBERS, _clean())
    assert [(f.kind, f.subscriber, f.change) for f in missing.findings] == [
        (rd.LOST, "follower", delete_b.label), (rd.LOST, "stranger", delete_b.label)]
    deliveries = [*_clean(), *(Delivery(s, _event(delete_b), T0 + 5.05)
                               for s in ("follower", "stranger"))]
    assert rd.judge(changes, SUBSCRIBERS, deliveries).findings == []
    leaky = [d if not (d.subscriber == "stranger" and d.event.type == "DELETE")
             else Delivery("stranger", _event(CHANGES[3], {"id": POST_A, "body": "x"}),
                              d.received_at)
             for d in _clean()]
    assert rd.judge(CHANGES, SUBSCRIBERS, leaky).findings == [
        rd.Finding(rd.LEAK, "stranger", CHANGES[3].label, "DELETE old_record carries body")]


def test_filters_narrow_inserts_and_deletes_as_realtime_does() -> None:
    eq = Subscription("posts", filter=f"id=eq.{POST_B}")
    inn = Subscription("posts", filter=f"id=in.({POST_A},{POST_B})")
    by_author = Subscription("posts", filter="author_id=eq.u1")
    only_insert = Subscription("posts", event="INSERT")
    assert [eq.wants(c) for c in CHANGES] == [False, False, True, False]
    assert [inn.wants(c) for c in CHANGES] == [True, True, True, True]
    # A filter on a non-key column cannot be judged on a DELETE's old record: no DELETE.
    assert [by_author.wants(c) for c in CHANGES] == [True, True, True, False]
    assert [only_insert.wants(c) for c in CHANGES] == [True, False, True, False]
    sub = Subscriber("follower", (eq,))
    report = rd.judge(CHANGES, [sub], _clean())
    assert [(f.kind, f.change) for f in report.findings] == [
        (rd.LEAK, CHANGES[0].label), (rd.LEAK, CHANGES[1].label), (rd.LEAK, CHANGES[3].label)]
    assert all(f.detail.startswith("outside its subscription") for f in report.findings)
    with pytest.raises(ValueError, match="not a Realtime filter"):
        RowFilter.parse("id=like.x")
    assert RowFilter.parse("n=gt.5").holds({"n": 7})
    assert not RowFilter.parse("n=lte.5").holds({"n": 7})


def test_window_limits_what_must_arrive_but_not_what_may_not() -> None:
    late = Subscriber("stranger", (Subscription("posts"),), window=(T0 + 2.5, T0 + 9))
    deliveries = [d for d in _clean() if d.subscriber == "stranger" and d.event.type == "DELETE"]
    report = rd.judge(CHANGES, [late], deliveries)
    assert report.findings == [] and report.expected == 1
    leak = Delivery("stranger", _event(CHANGES[2]), T0 + 3.05)
    assert [f.kind for f in rd.judge(CHANGES, [late], [*deliveries, leak]).findings] == [rd.LEAK]


def test_events_of_other_runs_are_counted_not_judged_and_unknown_ones_reported() -> None:
    other = ChangeEvent("public", "posts", "INSERT", None, {"id": "elsewhere"}, (1,))
    odd = ChangeEvent("public", "posts", "UPDATE", None, {"id": POST_B, "body": "?"}, (1,))
    deliveries = [*_clean(), Delivery("follower", other, T0 + 9),
                  Delivery("follower", odd, T0 + 9)]
    report = rd.judge(CHANGES, SUBSCRIBERS, deliveries)
    assert report.foreign == 1
    assert [(f.kind, f.subscriber) for f in report.findings] == [(rd.UNKNOWN, "follower")]
