"""Sequences of committed actions: a Hypothesis state machine whose rules are actors acting
through the PostgREST path. After every step the database's rows, every viewer's reads and
every verdict equal the model's, the spec's transition rules hold, and every viewer the model
says cannot see the step reads every relation of the exposed schemas (all columns) as before
it (non-interference, compared by digests). A failure is shrunk
to a minimal sequence and written as a replayable steps file.

`--depth nightly` looks much longer; `--replay-steps FILE` replays a steps file instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.db import session as db_session
from soberharness.lints.catalog import exposed_schemas
from soberharness.pytest_plugin import live_progress
from soberharness.records.steps import StepSyntaxError
from soberharness.report.run_report import RunReport
from soberharness.runner.sequence import SequenceRunner
from soberharness.runner.sequence_shrink import replay
from soberharness.runner.state_machine import DEPTHS, search
from soberharness.workload.steps import Names, load_steps

REPLAY = ".venv/bin/pytest suites/security/test_state_machine.py --replay-steps"


@pytest.fixture(scope="module")
def runner(module_database: str, run_report: RunReport) -> Iterator[SequenceRunner]:
    with db_session.connect(module_database, autocommit=True) as conn:
        runner = SequenceRunner(conn, Names(run_report.run_id), schemas=exposed_schemas())
        try:
            yield runner
        finally:
            runner.clean()


@pytest.mark.needs("postgres")
def test_every_step_matches_the_model(
    runner: SequenceRunner, request: pytest.FixtureRequest, run_report: RunReport
) -> None:
    config = request.config
    steps_file = config.getoption("--replay-steps", default=None)
    if steps_file:
        try:
            failure = replay(runner, load_steps(steps_file))
        except StepSyntaxError as exc:
            pytest.fail(f"soberharness: {exc}", pytrace=False)
    else:
        with live_progress(config, "state machine", "sequences") as progress:
            failure = search(runner, DEPTHS[config.getoption("--depth", default="ci")], progress)
    run_report.notes["state machine steps"] = runner.steps_run
    if failure is not None:
        out = failure.write(Path(config.getoption("--report-dir")))
        pytest.fail(f"{failure.describe()}\nwritten to {out}; replay: {REPLAY} {out}",
                    pytrace=False)
