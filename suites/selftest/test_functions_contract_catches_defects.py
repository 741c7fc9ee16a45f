"""The contract runner's "requests wrongly accepted": a planted description of the functions
that calls a request invalid which the function accepts (a required, bounded query parameter
milestones ignores) is reported as exactly that operation, answered 200, wrongly accepted;
nothing else of the functions is reported. Served by a real Deno from a changed copy, against a
scratch database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from soberharness.checker.contract import distinct, failing, judge
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for, sign
from soberharness.db.seed import write_world
from soberharness.records.contract import WRONGLY_ACCEPTED
from soberharness.runner.contract import ContractPlan, run_contract, schema_from_url
from soberharness.targets.services.edge_functions import (
    STACK_FUNCTIONS,
    db_url_of,
    start_functions,
)
from soberharness.world.matrix_world import build_matrix_world

pytestmark = pytest.mark.needs("functions", "postgres")

SECRET = "contract-defect-secret-0123456789-abcdefghijklmno"
LIMIT = {"name": "limit", "in": "query", "required": True,
         "schema": {"type": "integer", "minimum": 1, "maximum": 100}}


def test_a_request_breaking_the_description_answered_200_is_wrongly_accepted(
    tmp_path: Path, scratch_database: str
) -> None:
    folder = tmp_path / "functions"
    shutil.copytree(STACK_FUNCTIONS, folder)
    spec_path = folder / "main" / "openapi.json"
    spec = json.loads(spec_path.read_text())
    spec["paths"]["/milestones"]["get"]["parameters"].append(LIMIT)
    spec_path.write_text(json.dumps(spec))
    mw = build_matrix_world("contractdefect")
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
    process, url = start_functions(tmp_path / "run", db_url_of(scratch_database), SECRET,
                                   functions_dir=folder)
    try:
        token = sign(claims_for(mw.actors["follower"]), SECRET)
        plan = ContractPlan("functions", url, {"authorization": f"Bearer {token}"},
                            max_examples=25, total_s=120.0,
                            also_run=frozenset({"POST /export-my-data"}))
        run = run_contract(schema_from_url(f"{url}/openapi.json", {}), plan)
    finally:
        process.stop()
    bad = failing(distinct(judge(run.findings, [])))
    assert [(f.operation, f.status, f.kind) for f in bad] == [
        ("GET /milestones", 200, WRONGLY_ACCEPTED)], [f.label for f in bad]
    assert "Schema-violating request accepted" in bad[0].answer, bad[0].answer
    assert bad[0].replay.startswith("curl -X GET") and "/milestones" in bad[0].replay
