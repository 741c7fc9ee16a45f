"""The storage suite can fail on a real Storage API: a leaky policy planted in the target's
database (restored at the end) shows as exactly the cells the model with that rule predicts:
every read form (download, info, list, sign, render) and copy of the video objects the model
denies to anon and signed-in users. Destructive: it changes the target's policies for a while."""

from __future__ import annotations

import pytest

from soberharness.access.planted import video_read_leak
from soberharness.db import session as db_session
from soberharness.runner.storage_matrix import predicted_mismatches, run_storage_matrix
from soberharness.workload.storage_target import StorageWorld
from soberharness.world.entities import Role

LEAK = ("create policy sober_planted_leak on storage.objects for select to anon, authenticated "
        "using (bucket_id = 'videos')")


@pytest.mark.destructive
@pytest.mark.needs("storage", "postgres")
def test_leaky_video_policy_is_caught_over_http(storage_world: StorageWorld) -> None:
    cells = storage_world.cells("videos").cells
    predicted = predicted_mismatches(storage_world.mw, cells,
                                     video_read_leak(Role.ANON, Role.AUTHENTICATED))
    assert predicted, "the model denies some video reads"
    with db_session.connect(storage_world.dsn, autocommit=True) as conn:
        conn.execute(LEAK)
        try:
            run = run_storage_matrix(storage_world.mw, storage_world.callers,
                                     storage_world.state, cells)
        finally:
            conn.execute("drop policy sober_planted_leak on storage.objects")
    found = {r.cell for r in run.mismatches}
    assert found == predicted, (
        f"not reported: {sorted(c.label() for c in predicted - found)}; "
        f"reported beyond the leak: {sorted(c.label() for c in found - predicted)}")
