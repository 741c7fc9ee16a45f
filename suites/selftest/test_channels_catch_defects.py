"""The private channel matrix can fail: an open private broadcast channel is reported as
exactly its cells (every signed-in actor receiving broadcast on a 'room:' topic); the clean
stack answers every cell as the rules say; the rules and the judging on hand-made answers."""

from __future__ import annotations

import uuid

import pytest

from soberharness.access.channels import ChannelOp, live_owner, live_topic, may
from soberharness.access.model import AccessModel
from soberharness.access.planted_values import OPEN_PRIVATE_BROADCAST
from soberharness.checker.channels import findings
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.records.channels import ChannelAnswer, ChannelCell, ChannelFinding
from soberharness.runner.channels import run_channels
from soberharness.workload.channel_cases import channel_cells
from soberharness.world.entities import Privacy, Viewer
from soberharness.world.matrix_world import build_matrix_world

SIGNED_IN_SHARED = {"follower", "requested", "stranger", "blocked", "blocker", "moderator",
                    "moderator+blocked", "moderator+blocker", "moderator+follower"}


def _findings(dsn: str, defect: str) -> list[ChannelFinding]:
    mw = build_matrix_world()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(defect.encode())
    return findings(run_channels(dsn, channel_cells(mw)))


@pytest.mark.needs("postgres")
def test_clean_stack_answers_every_channel_cell_as_the_rules_say(scratch_database: str) -> None:
    mw = build_matrix_world()
    cells = channel_cells(mw)
    assert any(c.expected for _, c in cells) and not all(c.expected for _, c in cells)
    got = _findings(scratch_database, "select 1")
    assert not got, "\n".join(f.describe() for f in got)


@pytest.mark.needs("postgres")
def test_open_private_broadcast_channel_is_named_cell_by_cell(scratch_database: str) -> None:
    got = _findings(scratch_database, OPEN_PRIVATE_BROADCAST)
    named = {(f.cell.actor.split(" towards ")[0], f.cell.topic_label, f.cell.extension,
              f.cell.op, f.allowed) for f in got}
    want = {(actor, f"room:O_{p.value}", "broadcast", "read", True)
            for actor in SIGNED_IN_SHARED | {"self"} for p in Privacy}
    assert named == want
    assert not any(f.error for f in got)


def test_rules_of_a_live_room() -> None:
    mw = build_matrix_world()
    model = AccessModel(mw.world)
    private = mw.owners[Privacy.PRIVATE].id
    topic = live_topic(private)
    assert live_owner(topic) == private and live_owner(f"room:{private}") is None

    def rights(actor: str) -> tuple[bool, bool]:
        viewer = mw.viewer(actor, Privacy.PRIVATE)
        return may(model, viewer, topic, ChannelOp.READ), may(model, viewer, topic, ChannelOp.WRITE)

    assert rights("self") == (True, True)
    assert rights("follower") == (True, True)
    assert rights("stranger") == (False, False)
    assert rights("anon") == (False, False)
    assert rights("moderator") == (True, True)
    assert rights("moderator+blocked") == (True, False)  # sees it, but a block forbids sending
    assert rights("service") == (True, True)
    public = live_topic(mw.owners[Privacy.PUBLIC].id)
    assert may(model, Viewer.anon(), public, ChannelOp.READ)
    assert not may(model, Viewer.anon(), public, ChannelOp.WRITE)
    assert not may(model, mw.viewer("moderator", Privacy.PUBLIC), f"room:{uuid.uuid4()}",
                   ChannelOp.READ)


def test_an_error_is_a_finding_and_a_matching_answer_is_not() -> None:
    cell = ChannelCell("stranger towards O_private", "live:O_private", "live:x", "presence",
                       "read", False)
    assert findings([ChannelAnswer(cell, False)]) == []
    [bad] = findings([ChannelAnswer(cell, True)])
    assert bad.describe() == ("stranger towards O_private read presence on live:O_private: "
                              "allowed, the rules say refused")
    [err] = findings([ChannelAnswer(cell, False, "division by zero")])
    assert "error division by zero" in err.describe()
