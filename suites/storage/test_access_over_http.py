"""Every matrix actor x bucket x storage operation through the Storage API, against the access
model, judged by the state each request leaves (read back as service_role). --storage-sample N
runs a covering sample of N cells per bucket instead (workload.storage_sample)."""

from __future__ import annotations

import pytest

from soberharness.report.run_report import RunReport
from soberharness.runner.storage_matrix import run_storage_matrix
from soberharness.workload.storage_forms import NO_HTTP_FORM, unoffered
from soberharness.workload.storage_target import StorageWorld


@pytest.mark.needs("storage", "postgres")
@pytest.mark.parametrize("bucket", ["avatars", "videos"])
def test_every_actor_and_operation_matches_the_model(
    bucket: str, storage_world: StorageWorld, run_report: RunReport
) -> None:
    sample = storage_world.cells(bucket)
    cells = sample.cells
    run = run_storage_matrix(storage_world.mw, storage_world.callers, storage_world.state, cells)
    run_report.notes[f"storage over HTTP: {bucket}"] = {
        **run.summary(), "cells run": sample.note(),
        "left out (feature missing)": unoffered(storage_world.offered),
        "no HTTP form": {f"{op} {name}": why for (op, name), why in NO_HTTP_FORM.items()}}
    assert len(run.results) == len(cells) > 0
    assert any(r.expected for r in run.results) and any(not r.expected for r in run.results)
    assert not run.mismatches, "\n".join(
        f"{r.cell.label()}: model {'allows' if r.expected else 'denies'}, Storage API "
        f"{'allowed' if r.actual else 'refused'} ({r.detail})"
        for r in run.mismatches
    )
