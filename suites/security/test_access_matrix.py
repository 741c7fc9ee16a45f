"""Every table x operation x actor x owner privacy level, in the database as PostgREST runs
it, against the access model. One test per table and operation; a failure lists its cells."""

from __future__ import annotations

import pytest

from soberharness.checker.refusal_text import refusal_leaks
from soberharness.runner.matrix import MatrixRun
from soberharness.workload.matrix_cases import CASES
from soberharness.world.matrix_world import ACTORS, MatrixWorld

SLICES = sorted({(case.table, case.op.value) for case in CASES})
# Every slice has both verdicts. (Blocks are never updated by users (decision 6), but service
# may change a block's created_at (D11, D33: the time cases), so that slice allows service.)
DENY_ALL: set[tuple[str, str]] = set()
# The avatars bucket is read by everyone, anon included; so are the bucket rows (decision 19).
ALLOW_ALL = {("objects:avatars", "select"), ("buckets", "select")}


@pytest.mark.needs("postgres")
@pytest.mark.parametrize(("table", "op"), SLICES, ids=[f"{t}-{o}" for t, o in SLICES])
def test_cells_match_the_model(matrix_run: MatrixRun, table: str, op: str) -> None:
    cells = [r for r in matrix_run.results if r.cell.table == table and r.cell.op.value == op]
    assert {r.cell.actor for r in cells} == set(ACTORS), "every actor has cells"
    wrong = [r for r in cells if not r.ok]
    assert not wrong, "\n".join(
        f"{r.cell.actor} {op} {table} [{r.cell.case}] privacy={r.cell.privacy} "
        f"token={r.cell.token or '-'}: "
        f"expected {'allow' if r.expected else 'deny'}, got {'allow' if r.actual else 'deny'} "
        f"({r.detail})"
        for r in wrong
    )


@pytest.mark.needs("postgres")
def test_matrix_has_both_verdicts_in_every_slice(matrix_run: MatrixRun) -> None:
    """A slice where the model allows nothing (or everything) would check little."""
    for table, op in SLICES:
        verdicts = {r.expected for r in matrix_run.results
                    if r.cell.table == table and r.cell.op.value == op}
        wanted = {False} if (table, op) in DENY_ALL else {True, False}
        wanted = {True} if (table, op) in ALLOW_ALL else wanted
        assert verdicts == wanted, f"{table} {op} has only {verdicts}"


@pytest.mark.needs("postgres")
def test_no_refusal_names_a_user_the_actor_may_not_see(
    matrix_run: MatrixRun, matrix_world: MatrixWorld
) -> None:
    """Issue 20: a refused write (a broken constraint included) says nothing of users the
    writer may not see."""
    assert [leak.line() for leak in refusal_leaks(matrix_world, matrix_run.results)] == []
