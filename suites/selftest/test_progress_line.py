"""Live progress: the terminal line (report.progress) updates in place at a few updates a
second on a terminal and writes plain lines at a bounded rate in a log; the matrix runner and
the state machine tell their callback counts that never go down and end at what they ran."""

from __future__ import annotations

import io

from hypothesis import settings

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.report.progress import ProgressLine, plain_lines_wanted
from soberharness.runner.matrix import run_matrix
from soberharness.runner.sequence import SequenceRunner
from soberharness.runner.state_machine import DEPTHS, search
from soberharness.world.matrix_world import build_matrix_world


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _line(plain: bool) -> tuple[ProgressLine, io.StringIO, FakeClock]:
    out, clock = io.StringIO(), FakeClock()
    return ProgressLine(out, "access matrix", "cells", plain=plain, clock=clock), out, clock


def test_terminal_line_is_rewritten_in_place_a_few_times_a_second() -> None:
    line, out, clock = _line(plain=False)
    for done in range(1, 1001):  # 1000 cells over 10 s
        clock.now += 0.01
        line(done, 1000)
    line.close()
    text = out.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n")  # one line, ended once
    updates = text.split("\r")[1:]
    assert len(updates) - 1 <= 10 / 0.25 + 1  # throttled: every 0.25 s, not 1000 times
    assert len(updates) >= 30
    assert updates[0].startswith("[soberharness] access matrix: 1/1000 cells (0%)")
    assert updates[-1].startswith("[soberharness] access matrix: 1000/1000 cells (100%) in 10.0s")


def test_terminal_line_blanks_what_a_longer_earlier_update_left() -> None:
    line, out, clock = _line(plain=False)
    line(5, 10, "a long note here")
    clock.now += 1
    line(6, 10)
    first, second = out.getvalue().split("\r")[1:]
    assert len(second) >= len(first.rstrip())


def test_log_lines_are_plain_and_bounded() -> None:
    line, out, clock = _line(plain=True)
    for done in range(1, 100_001):  # 100 000 cells over 1000 s
        clock.now += 0.01
        line(done, 100_000)
    line.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # the first, one per tenth, one per 10 s at most, and the last
    assert len(lines) <= 1 + 10 + 1000 / 10 + 1
    assert len(lines) >= 1000 / 10
    assert lines[0] == "[soberharness] access matrix: 1/100000 cells (0%), 0s"
    assert lines[-1] == "[soberharness] access matrix: 100000/100000 cells (100%) in 1000.0s"


def test_log_lines_of_a_fast_stretch_are_its_tenths() -> None:
    line, out, clock = _line(plain=True)
    for done in range(1, 1001):  # 1000 cells in 1 s: a line per tenth, no more
        clock.now += 0.001
        line(done, 1000)
    line.close()
    lines = out.getvalue().splitlines()
    assert [ln.split(": ")[1].split(" cells")[0] for ln in lines] == [
        "1/1000", *(f"{n}/1000" for n in range(100, 1001, 100))]
    assert lines[-1].endswith(" in 1.0s")  # the end said once, by the closing line


def test_counts_past_the_total_add_no_lines_and_no_share_over_100() -> None:
    line, out, clock = _line(plain=True)
    for done in range(1, 38):  # 37 sequences run of 30 planned, within 10 s
        clock.now += 0.1
        line(done, 30)
    line.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 9 + 1
    assert lines[-1] == "[soberharness] access matrix: 37 cells (past the 30 planned) in 3.7s"


def test_without_a_total_the_count_and_note_are_shown() -> None:
    line, out, _ = _line(plain=True)
    line(3, None, "41 steps")
    line.close()
    assert out.getvalue().splitlines() == [
        "[soberharness] access matrix: 3 cells, 41 steps, 0s",
        "[soberharness] access matrix: 3 cells, 41 steps in 0.0s",
    ]


def test_nothing_reported_writes_nothing() -> None:
    line, out, _ = _line(plain=False)
    line.close()
    assert out.getvalue() == ""


def test_plain_lines_in_ci_or_off_a_terminal() -> None:
    assert not plain_lines_wanted(True, {})
    assert not plain_lines_wanted(True, {"CI": "false"})
    assert plain_lines_wanted(True, {"CI": "true"})
    assert plain_lines_wanted(False, {})


def test_run_matrix_counts_cells_up_to_the_total(scratch_database: str) -> None:
    mw = build_matrix_world()
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
    seen: list[tuple[int, int | None]] = []
    run = run_matrix(scratch_database, mw, workers=2, tables={"follows"},
                     progress=lambda done, total, note="": seen.append((done, total)))
    assert len(run.results) > 1
    assert [d for d, _ in seen] == list(range(1, len(run.results) + 1))
    assert {t for _, t in seen} == {len(run.results)}


def test_state_machine_counts_sequences_and_steps(scratch_database: str) -> None:
    how = settings(DEPTHS["ci"], max_examples=3, stateful_step_count=4, derandomize=True,
                   database=None)
    seen: list[tuple[int, int | None, str]] = []
    with db_session.connect(scratch_database, autocommit=True) as conn:
        runner = SequenceRunner(conn)
        failure = search(runner, how, lambda done, total, note="": seen.append((done, total, note)))
    assert failure is None
    sequences = [d for d, _, _ in seen]
    steps = [int(note.split()[0]) for _, _, note in seen]
    assert sequences == sorted(sequences) and sequences[-1] >= 3
    assert steps == sorted(steps) and steps[-1] == runner.steps_run > 0
    assert {t for _, t, _ in seen} == {3}
