"""Non-interference over the matrix world: for every change the access model says a viewer
cannot observe, the viewer's whole readable snapshot (every row and column of every relation
it may select in the exposed schemas) is the same before and after. A failure names the
change, the viewer, the relation, the column and both values."""

from __future__ import annotations

import pytest

from soberharness.lints.catalog import exposed_schemas
from soberharness.report.run_report import RunReport
from soberharness.runner.matrix import MatrixRun
from soberharness.runner.noninterference import run_noninterference
from soberharness.workload.invisible_changes import invisible_changes
from soberharness.world.matrix_world import MatrixWorld


@pytest.mark.needs("postgres")
def test_invisible_changes_change_nothing_a_blind_viewer_reads(
    matrix_run: MatrixRun,
    shared_or_fresh_database: str,
    matrix_world: MatrixWorld,
    run_report: RunReport,
) -> None:
    changes = invisible_changes(matrix_world)
    run = run_noninterference(shared_or_fresh_database, matrix_world, changes, exposed_schemas())
    run_report.notes["non-interference"] = (
        f"{run.changes} changes, {run.snapshots} viewer snapshots in {run.seconds:.1f} s")
    assert run.snapshots > 0, "the model names changes some viewer cannot observe"
    assert not run.not_applied, f"the database refused changes: {run.not_applied}"
    assert not run.differences, "\n".join(d.describe() for d in run.differences)
