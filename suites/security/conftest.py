"""Fixtures of the security suite: the matrix world seeded once, the matrix run once, and the
Storage API's own objects known per storage schema version.

On a target that makes throwaway databases (local) the matrix gets one of its own; on a
shared database (a remote target's DSN) the world is written, checked and removed again, and
anything left behind is reported. While it runs, the run holds its liveness lock there
(workload/run_liveness.py); worlds of dead runs (killed before they could clean up) are removed
first and named in the terminal.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.db import session as db_session
from soberharness.db.seed import leftovers, remove_world, write_world
from soberharness.lints.storage_api_objects import KnownStorageApi, known_storage_api
from soberharness.pytest_plugin import announce, live_progress
from soberharness.report.run_report import RunReport
from soberharness.runner.matrix import MatrixRun, run_matrix
from soberharness.workload.run_liveness import RunLock, remove_stale_worlds
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world


@pytest.fixture(scope="module")
def storage_api(module_database: str, run_report: RunReport) -> KnownStorageApi:
    """The Storage API's own objects in this database, judged by its registry for the storage
    schema version seen (which the run report names)."""
    with db_session.connect(module_database, autocommit=True) as conn:
        known = known_storage_api(conn)
    run_report.notes["storage schema version"] = known.note()
    return known


@pytest.fixture(scope="session")
def matrix_world(run_report: RunReport) -> MatrixWorld:
    """The matrix world, its ids and handles tagged with this run's id."""
    return build_matrix_world(run_report.run_id)


@pytest.fixture(scope="session")
def matrix_run(
    request: pytest.FixtureRequest,
    shared_or_fresh_database: str,
    run_report: RunReport,
    matrix_world: MatrixWorld,
) -> Iterator[MatrixRun]:
    dsn = shared_or_fresh_database
    with RunLock(dsn, run_report.run_id):
        yield from _matrix_run(request.config, dsn, run_report, matrix_world)


def _matrix_run(
    config: pytest.Config, dsn: str, run_report: RunReport, matrix_world: MatrixWorld
) -> Iterator[MatrixRun]:
    with db_session.connect(dsn, autocommit=True) as conn:
        sweep = remove_stale_worlds(conn, run_report.run_id)
        stale = leftovers(conn, matrix_world.world)
        if stale:  # an earlier run with this run id (SOBERHARNESS_RUN_ID) crashed
            run_report.notes["stale matrix rows removed before the run"] = stale
            remove_world(conn, matrix_world.world)
        write_world(conn, matrix_world.world)
    if sweep.removed:
        run_report.notes["matrix worlds of dead runs removed"] = sweep.removed
        announce(config, f"removed the matrix worlds of {len(sweep.removed)} dead run(s) from "
                 f"the database: {', '.join(sweep.removed)}")
    if sweep.live:
        run_report.notes["matrix worlds of live runs present (not touched)"] = sweep.live
        announce(config, f"matrix worlds of {len(sweep.live)} live run(s) share the database "
                 f"(left alone): {', '.join(sweep.live)}")
    try:
        with live_progress(config, "access matrix", "cells") as progress:
            run = run_matrix(dsn, matrix_world, workers=2, progress=progress)
        run_report.cells = run.results
        run_report.matrix_seconds = run.seconds
        yield run
    finally:
        with db_session.connect(dsn, autocommit=True) as conn:
            remove_world(conn, matrix_world.world)
            left = leftovers(conn, matrix_world.world)
        if left:
            run_report.notes["matrix rows left behind"] = left
            pytest.fail(f"the matrix world was not removed: {left}", pytrace=False)
