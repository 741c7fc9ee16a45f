"""The row after the write can fail: a trigger that clears a guarded column after the guard
checked the write is reported as exactly its cells and column; the clean stack leaves every
row as the model expects; the judging itself on hand-made read-backs."""

from __future__ import annotations

import pytest

from soberharness.access.planted_values import (
    CLEARS_HIDDEN_AFTER_GUARD,
    SILENT_REFUSAL_THAT_WRITES,
)
from soberharness.checker.row_after_write import OTHER_ROWS, ROW, TABLE, ReadBack, drifts
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.runner.matrix import MatrixRun, run_matrix
from soberharness.world.matrix_world import build_matrix_world


def _run(dsn: str, defect: str) -> MatrixRun:
    mw = build_matrix_world()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(defect.encode())
    return run_matrix(dsn, mw, workers=2, tables={"posts", "comments", "follows"})


@pytest.mark.needs("postgres")
def test_clean_stack_leaves_every_written_row_as_the_model_expects(scratch_database: str) -> None:
    run = _run(scratch_database, "select 1")
    assert any(r.expected and r.cell.op.value != "select" for r in run.results)
    assert not run.mismatches
    assert not run.drifts, "\n".join(d.describe() for d in run.drifts)


@pytest.mark.needs("postgres")
def test_trigger_clearing_hidden_after_the_guard_is_named(scratch_database: str) -> None:
    run = _run(scratch_database, CLEARS_HIDDEN_AFTER_GUARD)
    assert not run.mismatches, "the matrix alone sees nothing: every verdict holds"
    assert {(d.relation, d.column, d.actual) for d in run.drifts} == {
        ("public.posts", "hidden_at", None)}
    assert {d.cell.split(" of a ")[0] for d in run.drifts} >= {
        "service update posts [body of hidden]"}
    assert all("update posts [body of hidden]" in d.cell for d in run.drifts)


@pytest.mark.needs("postgres")
def test_a_silent_refusal_that_writes_its_table_is_named(scratch_database: str) -> None:
    run = _run(scratch_database, SILENT_REFUSAL_THAT_WRITES)
    assert not run.mismatches, "every verdict holds: the edit is refused"
    assert run.drifts
    assert {(d.relation, d.column, d.expected, d.actual) for d in run.drifts} == {
        ("public.posts", TABLE, (0, 0, 0), (0, 1, 0))}
    assert all(d.cell.startswith("moderator") and " update posts " in d.cell
               for d in run.drifts), [d.cell for d in run.drifts]


def _back(**changes: object) -> ReadBack:
    base = ReadBack((0, 1, 0), {"id": 1, "body": "x"}, {"id": True, "body": True})
    return ReadBack(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_a_refused_write_that_changed_its_table_is_a_drift() -> None:
    assert drifts("c", "public.t", "update", {}, False, False, _back(written=(0, 0, 0))) == []
    [d] = drifts("c", "public.t", "update", {}, False, False, _back(written=(1, 0, 0)))
    assert (d.column, d.expected, d.actual) == (TABLE, (0, 0, 0), (1, 0, 0))


def test_an_allowed_write_names_each_column_off_the_model_and_extra_rows_written() -> None:
    back = _back(same={"id": True, "body": False}, written=(0, 2, 0))
    found = drifts("c", "public.t", "update", {"id": 1, "body": "y"}, True, True, back)
    assert [(d.column, d.expected, d.actual) for d in found] == [
        (OTHER_ROWS, (0, 1, 0), (0, 2, 0)), ("body", "y", "x")]


def test_a_delete_must_leave_no_row_and_an_insert_must_leave_one() -> None:
    [d] = drifts("c", "public.t", "delete", {}, True, True, _back(written=(0, 0, 1)))
    assert d.column == ROW
    [d] = drifts("c", "public.t", "insert", {"id": 1}, True, True,
                 _back(row=None, written=(1, 0, 0)))
    assert (d.column, d.actual) == (ROW, None)
    assert drifts("c", "public.t", "delete", {}, True, True,
                  _back(row=None, written=(0, 0, 1))) == []


def test_a_write_the_model_refuses_but_the_database_allows_is_left_to_the_matrix() -> None:
    assert drifts("c", "public.t", "update", {}, False, True, _back(same={"body": False})) == []


def test_an_allowed_write_with_no_rows_counted_is_a_server_without_counts() -> None:
    assert drifts("c", "public.t", "update", {"id": 1}, True, True, _back(written=(0, 0, 0))) == []
