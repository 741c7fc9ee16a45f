"""Every matrix actor x bucket x storage operation through the Storage API, against the access
model, judged by the state each request leaves (read back as service_role)."""

from __future__ import annotations

import pytest

from soberharness.checker.storage_matrix import run_storage_matrix
from soberharness.report.run_report import RunReport
from soberharness.workload.storage_forms import NO_HTTP_FORM, storage_cells, unoffered
from soberharness.workload.storage_target import StorageWorld


@pytest.mark.needs("storage", "postgres")
@pytest.mark.parametrize("bucket", ["avatars", "videos"])
def test_every_actor_and_operation_matches_the_model(
    bucket: str, storage_world: StorageWorld, run_report: RunReport
) -> None:
    cells = [c for c in storage_cells(storage_world.mw, offered=storage_world.offered)
             if c.cell.table == f"objects:{bucket}"]
    run = run_storage_matrix(storage_world.mw, storage_world.callers, storage_world.state, cells)
    run_report.notes[f"storage over HTTP: {bucket}"] = {
        **run.summary(), "left out (feature missing)": unoffered(storage_world.offered),
        "no HTTP form": {f"{op} {name}": why for (op, name), why in NO_HTTP_FORM.items()}}
    assert len(run.results) == len(cells) > 0
    assert any(r.expected for r in run.results) and any(not r.expected for r in run.results)
    assert not run.mismatches, "\n".join(
        f"{r.cell.label()}: model {'allows' if r.expected else 'denies'}, Storage API "
        f"{'allowed' if r.actual else 'refused'} ({r.detail})"
        for r in run.mismatches
    )
