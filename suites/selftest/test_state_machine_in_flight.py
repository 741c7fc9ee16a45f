"""The state machine sends a step and draws the next while the server works on it
(SequenceRunner.send / collect): each step is still judged before the next one is committed,
and a sequence's last step is judged too. A planted defect (a block that keeps the follows)
must fail the sequence at the block with nothing sent after it, and a defect that only the
last step of a sequence can show must still be reported."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from soberharness.checker.sequence import SequenceFailure
from soberharness.db import session as db_session
from soberharness.records.steps import Step
from soberharness.runner.sequence import SequenceRunner
from soberharness.runner.state_machine import DEPTHS, machine_for
from soberharness.workload.steps import parse_steps

SEARCH = settings(DEPTHS["ci"], max_examples=150, derandomize=True, database=None)
BLOCK_KEEPS_FOLLOWS = "drop trigger remove_follows on public.blocks"


@pytest.fixture
def conn(scratch_database: str) -> Iterator[psycopg.Connection]:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        yield conn


@pytest.mark.needs("postgres")
def test_nothing_is_committed_after_the_failing_step(conn: psycopg.Connection) -> None:
    conn.execute(BLOCK_KEEPS_FOLLOWS)
    runner = SequenceRunner(conn)
    sent_when_failed: list[list[Step]] = []
    machine = machine_for(runner, on_failure=lambda f: sent_when_failed.append(list(runner.steps)))
    with pytest.raises(SequenceFailure) as caught:
        run_state_machine_as_test(machine, settings=SEARCH)
    failure = caught.value
    assert failure.step.verb == "block", failure.describe()
    # The runner had sent exactly the failing sequence: the step drawn after it was not sent.
    assert sent_when_failed[0] == failure.steps
    assert not runner.in_flight
    runner.clean()


@pytest.mark.needs("postgres")
def test_send_then_collect_judges_like_observe(conn: psycopg.Connection) -> None:
    conn.execute(BLOCK_KEEPS_FOLLOWS)
    runner = SequenceRunner(conn)
    steps = parse_steps("u1 create_profile privacy=public\nu2 create_profile privacy=public\n"
                        "u2 follow follower=u2 followee=u1 status=accepted\n"
                        "u1 block blocker=u1 blocked=u2\n")
    runner.reset()
    for step in steps[:-1]:
        runner.send(step)
        assert runner.in_flight
        with pytest.raises(RuntimeError, match="in flight"):
            runner.send(step)
        assert runner.collect().step == step
    runner.send(steps[-1])
    run = runner.collect()
    follows = {(runner.names.name(f.follower), runner.names.name(f.followee))
               for f in run.after.rows["follows"]}  # type: ignore[union-attr]
    assert follows == {("u2", "u1")}, "the defect keeps the follow"
    assert run.state.world.follows == [], "the model removes it"
    with pytest.raises(RuntimeError, match="no step in flight"):
        runner.collect()
    runner.clean()


@pytest.mark.needs("postgres")
def test_a_step_left_in_flight_is_settled_by_clean(conn: psycopg.Connection) -> None:
    runner = SequenceRunner(conn)
    runner.reset()
    runner.send(parse_steps("u1 create_profile privacy=public\n")[0])
    runner.clean()  # reads the answers first: the connection is free again
    assert not runner.in_flight
    assert conn.execute("select 1").fetchone() == (1,)


@pytest.mark.needs("postgres")
def test_the_last_step_of_a_sequence_is_judged_at_teardown(conn: psycopg.Connection) -> None:
    conn.execute(BLOCK_KEEPS_FOLLOWS)
    runner = SequenceRunner(conn)
    machine = machine_for(runner)()
    steps = parse_steps("u1 create_profile privacy=public\nu2 create_profile privacy=public\n"
                        "u2 follow follower=u2 followee=u1 status=accepted\n"
                        "u1 block blocker=u1 blocked=u2\n")
    for step in steps:
        machine._do(step)  # the block is in flight, not judged yet
    assert runner.in_flight
    with pytest.raises(SequenceFailure) as caught:
        machine.teardown()
    assert caught.value.steps == steps
    runner.clean()
