"""The storage suite can fail on a real Storage API: a leaky policy planted in the target's
database (restored at the end) shows as exactly the video reads the model denies.
Destructive: it changes the target's policies for a few seconds."""

from __future__ import annotations

import psycopg
import pytest

from soberharness.records.results import Op
from soberharness.runner.storage_matrix import run_storage_matrix
from soberharness.workload.storage_actions import storage_cells
from soberharness.workload.storage_target import StorageWorld
from soberharness.world.entities import Privacy

LEAK = ("create policy sober_planted_leak on storage.objects for select to anon, authenticated "
        "using (bucket_id = 'videos')")


@pytest.mark.destructive
@pytest.mark.needs("storage", "postgres")
def test_leaky_video_policy_is_caught_over_http(storage_world: StorageWorld) -> None:
    cells = [c for c in storage_cells(storage_world.mw, privacies=(Privacy.PRIVATE,))
             if c.cell.table == "objects:videos" and c.cell.op is Op.SELECT
             and c.cell.case == "owner's object"]
    with psycopg.connect(storage_world.dsn, autocommit=True) as conn:
        conn.execute(LEAK)
        try:
            run = run_storage_matrix(storage_world.mw, storage_world.callers,
                                     storage_world.state, cells)
        finally:
            conn.execute("drop policy sober_planted_leak on storage.objects")
    denied = {r.cell for r in run.results if not r.expected}
    assert denied, "the model denies some private video reads"
    assert {r.cell for r in run.mismatches} == denied
