"""Fixtures of the functions suite: the main service's client and the matrix world written into
the database the functions work on (removed again at the end; leftovers fail the run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.clients.functions import FunctionsClient
from soberharness.db import session as db_session
from soberharness.db.seed import leftovers, remove_world, write_world
from soberharness.report.run_report import RunReport
from soberharness.targets.base import Service, Target
from soberharness.workload.functions_calls import row_names
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world


@pytest.fixture(scope="session")
def functions(target: Target) -> Iterator[FunctionsClient]:
    with FunctionsClient(target.url(Service.FUNCTIONS)) as client:
        yield client


@pytest.fixture(scope="session")
def functions_dsn(target: Target) -> str:
    return target.service_dsn(Service.FUNCTIONS)


@pytest.fixture(scope="session")
def jwt_secret(target: Target) -> str:
    secret = target.keys.jwt_secret
    if not secret:
        pytest.skip(f"target '{target.name}' gives no JWT secret to sign actors' tokens with")
    return secret


def _written(dsn: str, mw: MatrixWorld) -> Iterator[MatrixWorld]:
    with db_session.connect(dsn, autocommit=True) as conn:
        remove_world(conn, mw.world)  # an earlier run with this run id crashed
        write_world(conn, mw.world)
    try:
        yield mw
    finally:
        with db_session.connect(dsn, autocommit=True) as conn:
            remove_world(conn, mw.world)
            left = leftovers(conn, mw.world)
        if left:
            pytest.fail(f"the functions' matrix world was not removed: {left}", pytrace=False)


@pytest.fixture(scope="session")
def fn_world(functions_dsn: str, run_report: RunReport) -> Iterator[MatrixWorld]:
    """The matrix world in the functions' database, for the read-only functions."""
    yield from _written(functions_dsn, build_matrix_world(f"fn{run_report.run_id}"))


@pytest.fixture
def fresh_world(functions_dsn: str, run_report: RunReport, request: pytest.FixtureRequest
                ) -> Iterator[MatrixWorld]:
    """A matrix world of its own for a test that changes it (notify, deletion)."""
    tag = request.node.name.split("[")[0][-12:]
    yield from _written(functions_dsn, build_matrix_world(f"fn{run_report.run_id}{tag}"))


@pytest.fixture(scope="session")
def names(fn_world: MatrixWorld) -> dict[str, str]:
    return row_names(fn_world)
