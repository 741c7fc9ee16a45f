"""Canaries over the matrix world: every text carries a unique marker; no viewer reads a marker
of a text the access model hides from it, nor is told one when refused (the error texts of the
matrix's refused cells). A failure names the viewer, the marker's source and the relation and
column it was read in (or the refused request and the part of its error)."""

from __future__ import annotations

import pytest

from soberharness.lints.catalog import exposed_schemas
from soberharness.report.run_report import RunReport
from soberharness.runner.canaries import run_canaries
from soberharness.runner.matrix import MatrixRun
from soberharness.world.matrix_world import MatrixWorld


@pytest.mark.needs("postgres")
def test_no_viewer_reads_a_marker_it_may_not_know(
    matrix_run: MatrixRun,
    shared_or_fresh_database: str,
    matrix_world: MatrixWorld,
    run_report: RunReport,
) -> None:
    refused = [r.cell for r in matrix_run.results if not r.actual and r.detail[5:7] == ": "]
    run = run_canaries(shared_or_fresh_database, matrix_world, exposed_schemas(), refused)
    run_report.notes["canaries"] = (
        f"{run.canaries} markers, {run.found} found where allowed, {run.refusals} refusals "
        f"searched, in {run.seconds:.1f} s")
    assert run.refusals > 0, "the matrix's refused cells' errors are searched"
    assert run.found > 0, "the markers are found where viewers may read them"
    assert not run.leaks, "\n".join(leak.describe() for leak in run.leaks)
