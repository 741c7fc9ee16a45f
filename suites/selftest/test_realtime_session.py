"""The sans-IO Realtime session: frames in, channel state out (no sockets). Server frames are
written here by hand in Realtime's shapes, not produced by the code under test."""

from __future__ import annotations

import json

from soberharness.clients import realtime as rp


def _session(vsn: rp.Vsn = rp.VSN_2) -> tuple[rp.RealtimeSession, rp.Channel]:
    session = rp.RealtimeSession(vsn, heartbeat_interval_s=25, now=0.0)
    channel = session.join("room", "jwt", [rp.ChangeFilter("posts")], presence_key="me",
                           broadcast_ack=True, now=1.0)
    return session, channel


def test_join_frame_and_ok_reply_with_subscription_ids() -> None:
    session, channel = _session()
    [frame] = session.drain()
    join_ref, ref, topic, event, payload = json.loads(frame)
    assert (join_ref, ref, topic, event) == ("1", "1", "realtime:room", "phx_join")
    assert payload["config"]["presence"] == {"key": "me"}
    reply = json.dumps(["1", "1", "realtime:room", "phx_reply", {"status": "ok", "response": {
        "postgres_changes": [{"id": 31, "event": "*", "schema": "public", "table": "posts"}]}}])
    incoming = session.receive(reply, wall=100.0, mono=1.25)
    assert incoming.kind == "join" and incoming.ok and incoming.rtt_s == 0.25
    assert channel.joined and list(channel.subscription_ids) == [31]
    ready = json.dumps(["1", None, "realtime:room", "system", {
        "extension": "postgres_changes", "status": "ok", "message": "Subscribed to PostgreSQL",
        "channel": "room"}])
    session.receive(ready, wall=100.5, mono=1.5)
    assert channel.ready_at == 100.5


def test_refused_join_keeps_the_reason() -> None:
    session, channel = _session(rp.VSN_1)
    session.drain()
    refused = json.dumps({"topic": "realtime:room", "event": "phx_reply", "ref": "1",
                          "payload": {"status": "error", "response": {
                              "reason": "Token has expired 3 seconds ago"}}})
    incoming = session.receive(refused, 0.0, 2.0)
    assert incoming.kind == "join" and not incoming.ok
    assert channel.state == rp.ChannelState.REFUSED
    assert channel.reason == "Token has expired 3 seconds ago"


def test_acks_broadcasts_presence_and_shutdown() -> None:
    session, channel = _session()
    session.receive(json.dumps(["1", "1", "realtime:room", "phx_reply",
                                {"status": "ok", "response": {}}]), 0.0, 1.1)
    session.drain()
    ref = session.broadcast(channel, "typing", {"who": "me"})
    [sent] = session.drain()
    assert json.loads(sent) == ["1", ref, "realtime:room", "broadcast",
                                {"type": "broadcast", "event": "typing", "payload": {"who": "me"}}]
    session.receive(json.dumps(["1", ref, "realtime:room", "phx_reply",
                                {"status": "ok", "response": {}}]), 0.0, 1.2)
    assert channel.acks == {ref: "ok"}
    session.receive(json.dumps([None, None, "realtime:room", "broadcast",
                                {"type": "broadcast", "event": "typing", "payload": {"n": 1}}]),
                    5.0, 1.3)
    assert [(b.event, b.payload) for b in channel.broadcasts] == [("typing", {"n": 1})]
    state = {"me": {"metas": [{"phx_ref": "A"}]}, "you": {"metas": [{"phx_ref": "B"}]}}
    session.receive(json.dumps(["1", None, "realtime:room", "presence_state", state]), 0, 1)
    assert channel.presence.keys() == {"me", "you"}
    diff = {"joins": {"them": {"metas": [{"phx_ref": "C"}]}},
            "leaves": {"you": {"metas": [{"phx_ref": "B"}]}}}
    session.receive(json.dumps(["1", None, "realtime:room", "presence_diff", diff]), 0, 1)
    assert channel.presence.keys() == {"me", "them"}
    refreshed = session.refresh_token("new-jwt")
    [frame] = session.drain()
    assert json.loads(frame) == ["1", refreshed[0], "realtime:room", "access_token",
                                 {"access_token": "new-jwt"}]
    session.receive(json.dumps(["1", None, "realtime:room", "system", {
        "extension": "system", "status": "error", "message": "Token has expired 0 seconds ago",
        "channel": "room"}]), 0, 1)
    closed = session.receive(json.dumps(["1", "1", "realtime:room", "phx_close", {}]), 0, 1)
    assert closed.kind == "close" and channel.state == rp.ChannelState.CLOSED
    assert channel.reason == "Token has expired 0 seconds ago"


def test_heartbeats_are_due_answered_and_late() -> None:
    session = rp.RealtimeSession(rp.VSN_1, heartbeat_interval_s=10, now=0.0)
    assert session.tick(5.0) == [] and session.drain() == []
    session.tick(10.0)
    [beat] = session.drain()
    sent = json.loads(beat)
    assert (sent["topic"], sent["event"]) == ("phoenix", "heartbeat")
    reply = json.dumps({"topic": "phoenix", "event": "phx_reply", "ref": sent["ref"],
                        "payload": {"status": "ok", "response": {}}})
    assert session.receive(reply, 0, 10.5).rtt_s == 0.5
    session.tick(20.0)
    session.drain()
    assert session.tick(31.0) != []  # unanswered past the timeout
