"""Non-interference inside the state machine can fail: a planted trigger-kept follower count
that counts pending follows too is reported at exactly the follow that makes it move, for
exactly the viewer the model says cannot see that follow; the clean stack passes the same
sequences, and with non-interference off the defect goes unseen (the oracle is what sees it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import settings

from soberharness.access.planted_values import PENDING_FOLLOWER_COUNT
from soberharness.checker.step_blindness import blind_viewers
from soberharness.db import session as db_session
from soberharness.lints.catalog import exposed_schemas
from soberharness.records.steps import Step
from soberharness.runner.sequence import SequenceRunner
from soberharness.runner.sequence_shrink import replay
from soberharness.runner.state_machine import DEPTHS, search
from soberharness.workload.steps import Names, initial_world, parse_steps
from soberharness.world.entities import Follow, FollowStatus, Privacy, Viewer

SEARCH = settings(DEPTHS["ci"], max_examples=30, derandomize=True, database=None)
# The planted count, run as its owner (API roles may not update others' profiles): the
# trigger's write goes through whoever follows.
COUNT_AS_OWNER = PENDING_FOLLOWER_COUNT + (
    "\nalter function private.count_followers() security definer set search_path = '';")
PENDING = parse_steps("""
    u1 create_profile privacy=private
    u3 create_profile privacy=private
    u1 follow follower=u1 followee=u3 status=pending
""")


@pytest.fixture
def database(scratch_database: str) -> Iterator[psycopg.Connection]:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        yield conn


def test_a_pending_follow_is_seen_by_its_parties_only() -> None:
    names = Names()
    before = initial_world(names).world
    for user in ("u1", "u3"):
        before.users[names.id(user)] = dataclasses.replace(
            names.user(user), has_profile=True, privacy=Privacy.PRIVATE)
    after = before.copy()
    follow = Follow(names.id("u1"), names.id("u3"), FollowStatus.PENDING)
    after.add(follow)
    viewers = [Viewer.anon(), *(names.viewer(u) for u in ("u1", "u2", "u3"))]
    blind = blind_viewers(before, after, viewers, [follow])
    assert blind == [Viewer.anon(), names.viewer("u2")]


@pytest.mark.needs("postgres")
def test_pending_follower_count_is_reported_at_the_follow_for_the_blind_viewer(
    database: psycopg.Connection,
) -> None:
    database.execute(COUNT_AS_OWNER.encode())
    runner = SequenceRunner(database, schemas=exposed_schemas())
    failure = search(runner, SEARCH)
    assert failure is not None, "the machine must find the planted count"
    step = failure.step
    assert (step.verb, step.arg("status")) == ("follow", "pending"), failure.describe()
    assert {f.kind for f in failure.findings} == {"noninterference"}, failure.describe()
    party = {step.arg("follower"), step.arg("followee")}
    for finding in failure.findings:
        assert finding.text.split(" ", 1)[0] not in party, failure.describe()
        assert "its read of public.profiles changed" in finding.text, failure.describe()
    # Exactly that step: the steps before it pass, the same steps fail again at it.
    assert replay(runner, failure.steps[:-1]) is None
    again = replay(runner, failure.steps)
    assert again is not None and again.step == step
    runner.clean()


@pytest.mark.needs("postgres")
def test_the_hand_written_pending_follow_names_u2_only(database: psycopg.Connection) -> None:
    database.execute(COUNT_AS_OWNER.encode())
    runner = SequenceRunner(database, schemas=exposed_schemas())
    failure = replay(runner, PENDING)
    assert failure is not None
    assert failure.step == Step.parse("u1 follow follower=u1 followee=u3 status=pending")
    assert [f.text.split(" ", 1)[0] for f in failure.findings] == ["u2"], failure.describe()
    # Without the oracle the same sequence passes: nothing else looks at the count's values.
    assert replay(SequenceRunner(database), PENDING) is None
    runner.clean()


@pytest.mark.needs("postgres")
def test_the_clean_stack_passes_with_noninterference_on(database: psycopg.Connection) -> None:
    runner = SequenceRunner(database, schemas=exposed_schemas())
    failure = search(runner, settings(SEARCH, max_examples=10))
    assert failure is None, failure.describe() if failure else ""
    assert runner.steps_run > 0
    runner.clean()
