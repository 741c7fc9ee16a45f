"""Fixtures of the security suite: the matrix world seeded once, the matrix run once."""

from __future__ import annotations

import psycopg
import pytest

from soberharness.checker.matrix import MatrixRun, run_matrix
from soberharness.report.run_report import RunReport
from soberharness.workload.seed import write_world
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world


@pytest.fixture(scope="session")
def matrix_world() -> MatrixWorld:
    return build_matrix_world()


@pytest.fixture(scope="session")
def matrix_run(target, run_report: RunReport, matrix_world: MatrixWorld) -> MatrixRun:
    name = target.new_database("matrix")
    dsn = target.admin_dsn(name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            write_world(conn, matrix_world.world)
        run = run_matrix(dsn, matrix_world, workers=2)
    finally:
        target.drop_database(name)
    run_report.cells = run.results
    run_report.matrix_seconds = run.seconds
    return run
