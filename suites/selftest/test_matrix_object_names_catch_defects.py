"""The object-name shapes can fail: the owner folder matched in any letter case (migration 0015
undone) is reported at exactly the uploads named with the id in capitals, by those who may
upload into their own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.runner.matrix import run_matrix
from soberharness.world.matrix_world import build_matrix_world

UNDO_0015 = (Path(__file__).parents[2] / "stack" / "migrations"
             / "0015_object_folder_exact_id" / "down.sql")
BUCKETS = ("objects:avatars", "objects:videos")


@pytest.mark.needs("postgres")
def test_owner_folder_in_capitals_is_reported_at_exactly_its_cells(scratch_database: str) -> None:
    mw = build_matrix_world()
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(UNDO_0015.read_text().encode())
    run = run_matrix(scratch_database, mw, workers=2, tables=BUCKETS)
    uploaders = {(r.cell.table, r.cell.actor) for r in run.results
                 if r.cell.case == "name with nested folders" and r.expected
                 and r.cell.actor != "service"}
    assert {actor for _, actor in uploaders} >= {"self", "stranger"}
    assert {(r.cell.table, r.cell.actor, r.cell.case) for r in run.mismatches} == {
        (table, actor, "name with the id in capitals") for table, actor in uploaders}
