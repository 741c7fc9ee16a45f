"""The one-parent cases can fail: with a comment's or a like's one-parent check dropped in a
scratch database, the matrix reports exactly the two-parent writes that then go through (issue
20: rows with two parents where the model assumes one); the clean stack refuses them all."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.runner.matrix import MatrixRun, run_matrix
from soberharness.workload.matrix_cases import TWO_PARENTS
from soberharness.world.matrix_world import ACTORS, build_matrix_world


def _run(dsn: str, defect: str) -> MatrixRun:
    mw = build_matrix_world()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(defect.encode())
    return run_matrix(dsn, mw, workers=2, tables=("comments", "likes"))


def _two_parent_cells(run: MatrixRun) -> dict[tuple[str, str, str], bool]:
    """(table, case, actor) -> the cell's expected outcome, for the two-parent cases."""
    return {(r.cell.table, r.cell.case, r.cell.actor): r.expected for r in run.results
            if "two parents" in r.cell.case or "second parent" in r.cell.case}


def _mismatched(run: MatrixRun) -> set[tuple[str, str, str, str]]:
    return {(c.table, c.op.value, c.case, c.actor) for c in (r.cell for r in run.mismatches)}


def _engagers(run: MatrixRun, table: str) -> set[str]:
    """The actors the model lets comment on / like the owner's visible post (public owner)."""
    return {r.cell.actor for r in run.results
            if (r.cell.table, r.cell.op.value, r.cell.case, r.cell.privacy)
            == (table, "insert", "on visible post", "public") and r.expected}


@pytest.mark.needs("postgres")
def test_clean_stack_refuses_every_two_parent_write(scratch_database: str) -> None:
    run = _run(scratch_database, "select 1")
    cells = _two_parent_cells(run)
    assert len(cells) == 4 * len(ACTORS), "four two-parent cases, every actor"
    assert not any(cells.values()), "the model refuses a second parent to everyone"
    assert not run.mismatches, "\n".join(r.cell.label() for r in run.mismatches)


@pytest.mark.needs("postgres")
def test_dropped_one_parent_check_is_reported_at_exactly_its_cells(scratch_database: str) -> None:
    """comments_one_parent and likes_one_parent dropped: whoever may engage with the visible
    post may now hang a comment or like on the hidden video too (the policies read the post
    only), and service may add a second parent to an existing row (the comment guard still
    keeps an author's update to the body, so the follower's update stays refused)."""
    run = _run(scratch_database, "alter table public.comments drop constraint comments_one_parent;"
                                 "alter table public.likes drop constraint likes_one_parent")
    commenters, likers = _engagers(run, "comments"), _engagers(run, "likes")
    assert "follower" in commenters and "follower" in likers
    assert _mismatched(run) == {
        *(("comments", "insert", f"on {TWO_PARENTS}", a) for a in commenters),
        *(("likes", "insert", f"on {TWO_PARENTS}", a) for a in likers),
        ("comments", "update", "second parent for follower's comment on visible post", "service"),
        ("likes", "update", "second parent for follower's like on visible post", "service"),
    }
