"""The state machine sends a step and draws the next while the server works on it
(SequenceRunner.send / collect): each step is still judged before the next one is committed,
and a sequence's last step is judged too. A planted defect (a block that keeps the follows)
must fail the sequence at the block with nothing sent after it, and a defect that only the
last step of a sequence can show must still be reported. What the model lets each viewer read
is worked out by the runner while the server runs the step; the checker judges against it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from soberharness.access.transitions import TransitionModel
from soberharness.checker.sequence import (
    TABLES,
    SequenceFailure,
    Snapshot,
    StepRun,
    model_rows,
    step_findings,
)
from soberharness.db import session as db_session
from soberharness.lints.catalog import exposed_schemas
from soberharness.records.steps import Step
from soberharness.runner.sequence import SequenceRunner
from soberharness.runner.state_machine import DEPTHS, machine_for
from soberharness.workload.steps import Names, initial_world, parse_steps
from soberharness.world.entities import Viewer

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


def test_the_checker_judges_reads_against_the_model_reads_it_is_given() -> None:
    names = Names()
    state = initial_world(names)
    anon = Viewer.anon()
    rows = model_rows(state)
    nothing: dict[str, set[object]] = {t: set() for t in TABLES}
    step = parse_steps("u1 create_profile privacy=public\n")[0]
    run = StepRun((step,), (), Snapshot(rows, {anon: nothing}), Snapshot(dict(rows),
                  {anon: nothing}), state, True)
    assert step_findings(run, names, [anon]) == []  # the model, asked here, lets anon read nothing
    # A planted model read (u1's profile) that the database's reads lack: reported for anon.
    planted = {anon: {**nothing, "profiles": {names.id("u1")}}}
    findings = step_findings(dataclasses.replace(run, model_reads=planted), names, [anon])
    assert [(f.kind, f.text.split(" reading ")[0]) for f in findings] == [("visibility", "anon")]
    assert "missing {u1}" in findings[0].text


@pytest.mark.needs("postgres")
def test_the_runner_works_out_the_model_reads_the_checker_would(
        conn: psycopg.Connection) -> None:
    runner = SequenceRunner(conn)
    runner.reset()
    runner.send(parse_steps("u1 create_profile privacy=public\n")[0])
    run = runner.collect()
    model = TransitionModel(run.state)
    assert run.model_reads == {v: model.visible(v) for v in runner.viewers}
    assert run.model_reads[Viewer.anon()]["profiles"] == {runner.names.id("u1")}
    runner.send(parse_steps("anon create_profile privacy=public\n")[0])  # refused: not worked out
    assert runner.collect().model_reads is None
    runner.clean()


@pytest.mark.needs("postgres")
def test_digests_sent_with_the_step_are_those_read_after_it(conn: psycopg.Connection) -> None:
    runner = SequenceRunner(conn, schemas=exposed_schemas())
    runner.reset()
    for step in parse_steps("u1 create_profile privacy=private\nu3 create_profile privacy=private\n"
                            "u1 follow follower=u1 followee=u3 status=pending\n"):
        read_alone = runner._digests

        def not_alone() -> dict[Viewer, object]:
            raise AssertionError("the digests were read alone, not with the step")

        runner._digests = not_alone  # type: ignore[method-assign, assignment]
        try:
            runner.send(step)
            run = runner.collect()
        finally:
            runner._digests = read_alone  # type: ignore[method-assign]
        assert run.after is not run.before, "each step changes rows: the digests went with it"
        assert runner.digests == runner._digests()  # read again, alone: the same
    assert [runner.names.name(r.viewer.user_id) if r.viewer.user_id else r.viewer.role.value
            for r in run.blind_reads] == ["anon", "u2"]  # the pending follow's blind viewers
    runner.clean()


def test_a_failure_hypothesis_ended_quietly_is_still_the_searchs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A step judged at teardown after the example's choices ran out fails while Hypothesis's
    data is frozen, and Hypothesis ends the example without raising: `search` still returns the
    failure its machine reported."""
    from soberharness.checker.sequence import Finding, SequenceFailure
    from soberharness.runner import state_machine

    steps = parse_steps("u1 create_profile privacy=public\n")
    failure = SequenceFailure(steps, [Finding("state", "planted: judged at teardown")])

    def quiet(machine: type, settings: object) -> None:
        machine.on_failure(failure)  # type: ignore[attr-defined]

    class Runner:
        def clean(self) -> None:
            pass

    monkeypatch.setattr(state_machine, "run_state_machine_as_test", quiet)
    monkeypatch.setattr(state_machine, "shrink", lambda runner, found: found)
    assert state_machine.search(Runner(), settings(max_examples=1)) is failure  # type: ignore[arg-type]
