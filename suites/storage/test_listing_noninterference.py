"""Non-interference through the Storage API's list endpoint: an upload the access model says a
viewer cannot observe changes nothing that viewer lists (the bucket's top level and every
folder level of the new object's name), asked with the viewer's own token. The row is
committed by SQL and removed right after (soberharness.runner.storage_listing)."""

from __future__ import annotations

import pytest

from soberharness.report.run_report import RunReport
from soberharness.runner.storage_listing import run_listing_noninterference, viewers_of
from soberharness.workload.invisible_changes import invisible_changes
from soberharness.workload.storage_target import StorageWorld


@pytest.mark.needs("storage", "postgres")
def test_an_invisible_upload_changes_no_listing(
    storage_world: StorageWorld, run_report: RunReport
) -> None:
    mw = storage_world.mw
    clients = {label: storage_world.callers.of(v) for label, v in viewers_of(mw).items()}
    run = run_listing_noninterference(storage_world.dsn, mw, clients,
                                      invisible_changes(mw, {"objects"}))
    run_report.notes["storage listing non-interference"] = (
        f"{run.uploads} uploads, {run.listings} listings in {run.seconds:.1f} s")
    assert run.uploads > 0, "the model names uploads some viewer cannot observe"
    assert not run.differences, "\n".join(d.describe() for d in run.differences)
