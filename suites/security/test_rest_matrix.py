"""The access matrix through the target's real PostgREST over HTTP: a seeded sample of cells
(every table x operation x actor, public and private owners) sent as supabase-js sends them,
against the model and against the SQL cell of the same case; and PostgREST's own description
of what it exposes, against what the harness covers."""

from __future__ import annotations

import pytest

from soberharness.checker.rest_matrix import RestRun
from soberharness.checker.rest_surface import exposed_paths, unmodelled_paths
from soberharness.clients.postgrest import PostgrestClient
from soberharness.db import session as db_session
from soberharness.lints import rest_paths as rs
from soberharness.lints.catalog import exposed_schemas
from soberharness.lints.declarations import Declarations, failing
from soberharness.lints.storage_api_objects import KnownStorageApi
from soberharness.records.results import LintFinding
from soberharness.report.run_report import RunReport
from soberharness.runner import rest_matrix as rm
from soberharness.runner.matrix import MatrixRun
from soberharness.services import rest
from soberharness.targets.base import Service, Target
from soberharness.world.entities import Viewer
from soberharness.world.matrix_world import MatrixWorld

SEED = "rest"  # the same sample on every target


def _keys(target: Target) -> rm.RestKeys:
    keys = target.keys
    missing = [name for name, value in (("anon key", keys.anon_key), ("service key",
               keys.service_key), ("JWT secret", keys.jwt_secret)) if not value]
    if missing:
        pytest.fail(f"target '{target.name}' gives no {', '.join(missing)}: the REST matrix signs "
                    "each actor's token (jwt_secret_env in the target file)", pytrace=False)
    return rm.RestKeys(keys.anon_key, keys.service_key, keys.jwt_secret)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rest_api(target: Target) -> PostgrestClient:
    keys = _keys(target)
    return rest.client(target.url(Service.REST), keys.anon_key)


@pytest.fixture(scope="module")
def rest_run(
    target: Target, rest_api: PostgrestClient, matrix_run: MatrixRun, matrix_world: MatrixWorld,
    shared_or_fresh_database: str, run_report: RunReport,
) -> RestRun:
    sample = rm.sample_cells(matrix_world, SEED)
    sql_cells = {r.cell: r.actual for r in matrix_run.results}
    with db_session.connect(shared_or_fresh_database, autocommit=True) as admin:
        run = rm.run_rest_matrix(matrix_world, rm.Callers(rest_api, _keys(target)), admin,
                                 sample, sql_cells, shared_writes=target.allows_destructive)
    run_report.notes["access matrix through PostgREST"] = run.summary()
    return run


@pytest.mark.needs("rest", "postgres")
def test_postgrest_answers_as_the_model_says(rest_run: RestRun) -> None:
    assert rest_run.results, "no REST cell was sent"
    assert {r.expected for r in rest_run.results} == {True, False}
    assert not rest_run.mismatches, "\n".join(rest_run.mismatch_lines())


@pytest.mark.needs("rest", "postgres")
def test_postgrest_and_the_sql_cells_agree(rest_run: RestRun) -> None:
    assert rest_run.compared_with_sql > 0, "no REST cell had its SQL cell to compare with"
    bad = [d.message() for d in rest_run.disagreements]
    bad += [e.message() for e in rest_run.embed_mismatches]
    assert not bad, "\n".join(bad)


@pytest.mark.needs("rest", "postgres")
def test_everything_postgrest_exposes_is_covered_or_declared(
    rest_api: PostgrestClient, target: Target, matrix_world: MatrixWorld,
    shared_or_fresh_database: str, declarations: Declarations, run_report: RunReport,
    storage_api: KnownStorageApi,
) -> None:
    keys = _keys(target)
    user = rm.Callers(rest_api, keys).user(Viewer.of(matrix_world.users["stranger"]))
    docs = rs.descriptions({"anon": rest_api, "authenticated": user}, exposed_schemas())
    assert docs, "PostgREST described no exposed schema"
    with db_session.connect(shared_or_fresh_database) as conn:
        surface = rs.surface_entries(conn, exposed_schemas())
    findings: list[LintFinding] = declarations.judge(storage_api.accept(
        unmodelled_paths(docs, rs.matrix_relations(matrix_world), surface)))
    run_report.notes["PostgREST's exposed paths"] = sorted(
        f"{p.schema}:{p.path}" for p in exposed_paths(docs))
    bad = failing(findings)
    assert not bad, "\n".join(f"{f.rule}: {f.object}: {f.message}" for f in bad)
