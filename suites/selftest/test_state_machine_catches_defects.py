"""The state machine can fail: each test plants a defect in a scratch database, runs the
machine (derandomized, so the search is the same every run) and asserts it reports the
defect at exactly its step: the reported sequence fails at its last step with the expected
findings, and the same sequence without that step passes every check."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import settings

from soberharness.checker.sequence import SequenceFailure
from soberharness.db import session as db_session
from soberharness.records.steps import Step
from soberharness.runner.sequence import SequenceRunner
from soberharness.runner.sequence_shrink import replay, signature
from soberharness.runner.state_machine import DEPTHS, search
from soberharness.workload.steps import load_steps, parse_steps

SEARCH = settings(DEPTHS["ci"], max_examples=150, derandomize=True, database=None)

# Creating a block no longer removes the follows between the pair.
BLOCK_KEEPS_FOLLOWS = "drop trigger remove_follows on public.blocks"
# The insert policy also takes `accepted` at once: a follow to a private user may start accepted.
FOLLOW_STARTS_ACCEPTED = """
alter policy follows_insert_as_follower on public.follows with check (
  follower_id = (select auth.uid()) and follower_id <> followee_id
  and not private.has_block(follower_id, followee_id)
  and (status = private.initial_follow_status(followee_id) or status = 'accepted'))
"""
# The private rule counts any follow, pending ones too: a requested follower reads private posts.
REQUESTED_READS_PRIVATE = """
create or replace function private.is_accepted_follower(viewer uuid, target uuid)
  returns boolean language sql stable security definer set search_path = '' as $fn$
  select exists (select 1 from public.follows f
                 where f.follower_id = viewer and f.followee_id = target)
$fn$
"""

# Follows removed by a block are parked and put back when the block goes: they come back.
FOLLOWS_COME_BACK = """
create table private.parked_follows (like public.follows);
create or replace function private.remove_follows_on_block() returns trigger
  language plpgsql security definer set search_path = '' as $fn$
begin
  insert into private.parked_follows select * from public.follows f
    where (f.follower_id = new.blocker_id and f.followee_id = new.blocked_id)
       or (f.follower_id = new.blocked_id and f.followee_id = new.blocker_id);
  delete from public.follows f
    where (f.follower_id = new.blocker_id and f.followee_id = new.blocked_id)
       or (f.follower_id = new.blocked_id and f.followee_id = new.blocker_id);
  return new;
end $fn$;
create function private.restore_follows_on_unblock() returns trigger
  language plpgsql security definer set search_path = '' as $fn$
begin
  insert into public.follows select * from private.parked_follows p
    where (p.follower_id = old.blocker_id and p.followee_id = old.blocked_id)
       or (p.follower_id = old.blocked_id and p.followee_id = old.blocker_id)
  on conflict do nothing;
  delete from private.parked_follows p
    where (p.follower_id = old.blocker_id and p.followee_id = old.blocked_id)
       or (p.follower_id = old.blocked_id and p.followee_id = old.blocker_id);
  return old;
end $fn$;
create trigger restore_follows after delete on public.blocks
  for each row execute function private.restore_follows_on_unblock();
"""


@pytest.fixture
def defective(scratch_database: str) -> Iterator[tuple[psycopg.Connection, SequenceRunner]]:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        yield conn, SequenceRunner(conn)


def _search_with(defective: tuple[psycopg.Connection, SequenceRunner], defect: str
                 ) -> tuple[SequenceRunner, SequenceFailure]:
    conn, runner = defective
    conn.execute(defect.encode())
    failure = search(runner, SEARCH)
    assert failure is not None, "the machine must find the planted defect"
    return runner, failure


def _assert_exactly_the_last_step(runner: SequenceRunner, failure: SequenceFailure) -> None:
    assert replay(runner, failure.steps[:-1]) is None, "the steps before it pass"
    again = replay(runner, failure.steps)
    assert again is not None and signature(again) == signature(failure)
    assert len(again.steps) == len(failure.steps)
    runner.clean()


def _kinds(failure: SequenceFailure) -> set[str]:
    return {f.kind for f in failure.findings}


@pytest.mark.needs("postgres")
def test_block_that_keeps_follows_is_reported_at_the_block(defective) -> None:  # type: ignore[no-untyped-def]
    runner, failure = _search_with(defective, BLOCK_KEEPS_FOLLOWS)
    step = failure.step
    assert step.verb == "block", failure.describe()
    assert _kinds(failure) == {"state", "transition", "visibility"}, failure.describe()
    transition = next(f.text for f in failure.findings if f.kind == "transition")
    assert transition.startswith("a block removes follows both ways")
    pair = {step.arg("blocker"), step.arg("blocked")}
    assert all(name in transition for name in pair)
    _assert_exactly_the_last_step(runner, failure)


@pytest.mark.needs("postgres")
def test_follows_coming_back_after_an_unblock_are_reported_at_the_unblock(defective) -> None:  # type: ignore[no-untyped-def]
    runner, failure = _search_with(defective, FOLLOWS_COME_BACK)
    step = failure.step
    assert step.verb == "unblock", failure.describe()
    assert _kinds(failure) == {"state", "transition", "visibility"}, failure.describe()
    assert any(f.text.startswith("nothing comes back after an unblock")
               for f in failure.findings)
    blocks = [s for s in failure.steps if s.verb == "block"]
    assert blocks and (blocks[-1].arg("blocker"), blocks[-1].arg("blocked")) == (
        step.arg("blocker"), step.arg("blocked"))
    _assert_exactly_the_last_step(runner, failure)


@pytest.mark.needs("postgres")
def test_follow_to_private_user_starting_accepted_is_reported_at_the_follow(defective) -> None:  # type: ignore[no-untyped-def]
    runner, failure = _search_with(defective, FOLLOW_STARTS_ACCEPTED)
    step = failure.step
    assert (step.verb, step.arg("status")) == ("follow", "accepted"), failure.describe()
    assert _kinds(failure) >= {"outcome", "state", "transition"}, failure.describe()
    outcome = next(f.text for f in failure.findings if f.kind == "outcome")
    assert "the model refuses it, the database let it through" in outcome
    assert any(f.text.startswith("a follow to a private user starts pending")
               for f in failure.findings)
    _assert_exactly_the_last_step(runner, failure)


@pytest.mark.needs("postgres")
def test_requested_follower_reading_a_private_post_is_reported(defective) -> None:  # type: ignore[no-untyped-def]
    runner, failure = _search_with(defective, REQUESTED_READS_PRIVATE)
    assert _kinds(failure) == {"visibility"}, failure.describe()
    # Only what the model hides leaks (nothing goes missing), and only to users who sent a
    # follow that is still pending: content of a private owner.
    requested = {s.arg("follower") for s in failure.steps
                 if s.verb == "follow" and s.arg("status") == "pending"}
    assert requested, failure.describe()
    for finding in failure.findings:
        assert "missing {}" in finding.text and ", extra {}" not in finding.text
        assert finding.text.split(" ", 1)[0] in requested, failure.describe()
        table = finding.text.split(" reading ", 1)[1].split(":", 1)[0]
        assert table in {"posts", "videos", "comments", "likes", "objects"}, failure.describe()
    _assert_exactly_the_last_step(runner, failure)


@pytest.mark.needs("postgres")
def test_a_hand_written_sequence_replays_the_same_finding(defective, tmp_path) -> None:  # type: ignore[no-untyped-def]
    conn, runner = defective
    conn.execute(BLOCK_KEEPS_FOLLOWS.encode())
    steps = parse_steps("""
        u1 create_profile privacy=private
        u2 create_profile privacy=public
        u2 follow follower=u2 followee=u1 status=pending   # starts pending: u1 is private
        u1 accept follower=u2 followee=u1
        u1 block blocker=u1 blocked=u2
        u1 unblock blocker=u1 blocked=u2
    """)
    failure = replay(runner, steps)
    assert failure is not None
    assert failure.step == Step.parse("u1 block blocker=u1 blocked=u2")
    assert len(failure.steps) == 5
    # The file a failing run writes replays to the same failure.
    written = load_steps(failure.write(tmp_path))
    assert written == failure.steps
    again = replay(runner, written)
    runner.clean()
    assert again is not None and signature(again) == signature(failure)
