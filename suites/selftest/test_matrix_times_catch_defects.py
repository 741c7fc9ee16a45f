"""The time cases (D33) can fail: each test gives the API roles back a database-filled column
in a scratch database and asserts the matrix reports exactly the cells that column opens."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.records.results import Cell
from soberharness.runner.matrix import MatrixRun, run_matrix
from soberharness.world.matrix_world import build_matrix_world


def _run_with_defect(
    dsn: str, defect: str, tables: tuple[str, ...] = ("likes", "profiles", "posts")
) -> MatrixRun:
    mw = build_matrix_world()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(defect.encode())
    return run_matrix(dsn, mw, workers=2, tables=tables)


def _mismatched(run: MatrixRun) -> set[tuple[str, str, str, str]]:
    return {(c.table, c.op.value, c.actor, c.case) for c in (r.cell for r in run.mismatches)}


def _allowed(run: MatrixRun, table: str, op: str, case: str) -> set[str]:
    """The actors the model lets do `case` (public owner): the ones a chosen time refuses."""
    return {r.cell.actor for r in run.results
            if (r.cell.table, r.cell.op.value, r.cell.case, r.cell.privacy)
            == (table, op, case, "public") and r.expected}


def _cells(run: MatrixRun, table: str, op: str, prefix: str) -> set[Cell]:
    return {r.cell for r in run.results
            if r.cell.table == table and r.cell.op.value == op and r.cell.case.startswith(prefix)}


@pytest.mark.needs("postgres")
def test_insertable_like_time_is_reported_at_exactly_its_cells(scratch_database: str) -> None:
    """Table-wide INSERT on likes again (migration 0014 undone for one table): every user who
    may like the visible post may now backdate or future-date the like."""
    run = _run_with_defect(scratch_database,
                           "grant insert on public.likes to authenticated")
    users = _allowed(run, "likes", "insert", "on visible post") - {"service"}
    assert users, "some users may like the owner's visible post"
    assert _cells(run, "likes", "insert", "own row, created_at"), "the time cases ran"
    assert _mismatched(run) == {
        ("likes", "insert", actor, f"own row, created_at {when}")
        for actor in users for when in ("past", "now", "future")}


@pytest.mark.needs("postgres")
def test_insertable_time_zone_is_reported_at_exactly_its_cell(scratch_database: str) -> None:
    """time_zone insertable by authenticated (against D31): only the owner inserting their own
    profile gets through, so exactly that cell shows."""
    run = _run_with_defect(scratch_database,
                           "grant insert (time_zone) on public.profiles to authenticated")
    assert _mismatched(run) == {("profiles", "insert", "self", "own profile, time_zone chosen")}


@pytest.mark.needs("postgres")
def test_dropped_created_at_guard_is_reported_at_exactly_its_cells(scratch_database: str) -> None:
    """created_at of posts updatable by authenticated and the column guard no longer holding
    it (both layers gone): whoever may change the visible post at all (its author, the
    moderators) may now re-date it, and nothing else changes."""
    run = _run_with_defect(scratch_database, """
        do $defect$ declare source text; begin
          source := pg_get_functiondef('private.guard_post_update'::regproc);
          execute replace(source, 'or new.created_at is distinct from old.created_at', '');
        end $defect$;
        grant update (created_at) on public.posts to authenticated""")
    editors = (_allowed(run, "posts", "update", "body of visible")
               | _allowed(run, "posts", "update", "set hidden_at")) - {"service"}
    assert "self" in editors
    assert _mismatched(run) == {("posts", "update", actor, f"created_at {when}")
                                for actor in editors for when in ("past", "future")}


@pytest.mark.needs("postgres")
def test_insertable_request_time_is_reported_at_exactly_its_cells(scratch_database: str) -> None:
    """requested_at insertable by authenticated: every user who may ask for their own deletion
    may now choose when it falls due (past: no grace period)."""
    mw = build_matrix_world()
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(b"grant insert (requested_at) on public.account_deletion_requests "
                     b"to authenticated")
    run = run_matrix(scratch_database, mw, workers=2, tables=["account_deletion_requests"])
    askers = _allowed(run, "account_deletion_requests", "insert", "for the actor, aal2")
    askers -= {"service"}
    assert askers, "some users may ask for their own deletion"
    assert _mismatched(run) == {
        ("account_deletion_requests", "insert", actor, f"for the actor, aal2, requested_at {when}")
        for actor in askers for when in ("past", "now", "future")}


@pytest.mark.needs("postgres")
def test_hidden_only_once_its_time_came_is_reported_at_exactly_its_cells(
    scratch_database: str,
) -> None:
    """content_visible reading hidden_at as a time (hidden from then on) rather than a flag:
    content hidden 'in the future' shows to exactly those who would see it unhidden (a block
    still hides it)."""
    run = _run_with_defect(scratch_database, """
        do $defect$ declare source text; begin
          source := pg_get_functiondef('private.content_visible'::regproc);
          execute replace(source, 'when content_hidden_at is not null then false',
                          'when content_hidden_at <= now() then false');
        end $defect$""", ("posts", "videos"))
    opened = {(table, "select", actor, "hidden at future") for table in ("posts", "videos")
              for actor in _allowed(run, table, "select", "visible")
              - _allowed(run, table, "select", "hidden at future")}
    assert {actor for _, _, actor, _ in opened} >= {"stranger", "follower"}
    assert _mismatched(run) == opened
