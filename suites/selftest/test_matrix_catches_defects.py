"""The access matrix can fail: each test breaks the schema on purpose in a scratch database
and asserts the matrix reports exactly the cells the defect opens (per the access model)."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.records.results import Cell
from soberharness.runner.matrix import MatrixRun, run_matrix
from soberharness.world.matrix_world import build_matrix_world


def _run_with_defect(dsn: str, defect: str) -> MatrixRun:
    mw = build_matrix_world()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(defect.encode())
    return run_matrix(dsn, mw, workers=2)


def _denied(run: MatrixRun, table: str, op: str) -> set[Cell]:
    return {r.cell for r in run.results
            if r.cell.table == table and r.cell.op.value == op and not r.expected}


def _mismatched(run: MatrixRun) -> set[Cell]:
    return {r.cell for r in run.mismatches}


@pytest.mark.needs("postgres")
def test_clean_stack_has_no_mismatch(scratch_database: str) -> None:
    run = _run_with_defect(scratch_database, "select 1")
    assert run.results and not run.mismatches


@pytest.mark.needs("postgres")
def test_permissive_post_policy_opens_exactly_the_denied_post_reads(scratch_database: str) -> None:
    run = _run_with_defect(
        scratch_database,
        "create policy leak on public.posts for select to anon, authenticated using (true)",
    )
    denied = _denied(run, "posts", "select")
    assert denied, "the model denies some post reads"
    assert _mismatched(run) == denied


@pytest.mark.needs("postgres")
def test_rls_disabled_on_comments_is_caught(scratch_database: str) -> None:
    run = _run_with_defect(
        scratch_database, "alter table public.comments disable row level security"
    )
    mismatched = _mismatched(run)
    assert mismatched, "disabling RLS must show"
    assert {c.table for c in mismatched} == {"comments"}
    assert _denied(run, "comments", "select") <= mismatched


@pytest.mark.needs("postgres")
def test_leaky_storage_policy_opens_exactly_the_denied_video_objects(
    scratch_database: str,
) -> None:
    run = _run_with_defect(
        scratch_database,
        "create policy leak on storage.objects for select to anon, authenticated "
        "using (bucket_id = 'videos')",
    )
    denied = _denied(run, "objects:videos", "select")
    assert denied
    assert _mismatched(run) == denied


@pytest.mark.needs("postgres")
def test_dropping_the_key_guard_lets_service_rekey_a_block(scratch_database: str) -> None:
    run = _run_with_defect(
        scratch_database, "drop trigger guard_columns on public.blocks"
    )
    assert {(c.table, c.op.value, c.actor) for c in _mismatched(run)} == {
        ("blocks", "update", "service")
    }
