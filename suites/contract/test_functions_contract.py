"""schemathesis against the edge functions' own OpenAPI description (GET /openapi.json of the
main service), through the same runner as the other services (soberharness/runner/contract.py):
no 5xx, every answer within its schema, no request the description calls invalid answered 2xx
("wrongly accepted"); what it ran and found goes in the run report. Read-only operations only
(milestones, and export-my-data although it is a POST), as a signed-in user of a world written
for the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.checker.contract import distinct, failing, judge
from soberharness.config.upstream_failures import load_upstream_failures
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for, sign
from soberharness.db.seed import remove_world, write_world
from soberharness.paths import REPO
from soberharness.report.run_report import RunReport
from soberharness.runner.contract import ContractPlan, describe, run_contract, schema_from_url
from soberharness.targets.base import Service, Target
from soberharness.world.matrix_world import build_matrix_world

pytestmark = pytest.mark.needs("functions", "postgres")

DECLARATIONS = REPO / "stack" / "declarations.toml"
READ_ONLY_POSTS = frozenset({"POST /export-my-data"})


def functions_plan(base: str, token: str) -> ContractPlan:
    return ContractPlan("functions", base, {"authorization": f"Bearer {token}"},
                        max_examples=25, total_s=120.0, also_run=READ_ONLY_POSTS)


@pytest.fixture(scope="module")
def token(target: Target) -> Iterator[str]:
    mw = build_matrix_world("contract")
    dsn = target.service_dsn(Service.FUNCTIONS)
    with db_session.connect(dsn, autocommit=True) as conn:
        remove_world(conn, mw.world)
        write_world(conn, mw.world)
    try:
        yield sign(claims_for(mw.actors["follower"]), target.keys.jwt_secret or "")
    finally:
        with db_session.connect(dsn, autocommit=True) as conn:
            remove_world(conn, mw.world)


def test_functions_answer_within_their_description(target: Target, token: str,
                                                   run_report: RunReport) -> None:
    base = target.url(Service.FUNCTIONS)
    run = run_contract(schema_from_url(f"{base}/openapi.json", {}), functions_plan(base, token))
    findings = distinct(judge(run.findings, load_upstream_failures(DECLARATIONS)))
    run_report.notes["API contract: functions"] = describe(run, findings)
    assert sorted(run.operations_run) == ["GET /milestones", "POST /export-my-data"], run.excluded
    bad = failing(findings)
    assert not bad, "\n".join(f"{f.label}: {f.answer[:160]}\n  replay: {f.replay}" for f in bad)
