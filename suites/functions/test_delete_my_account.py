"""delete-my-account worker: a due request removes the user's rows, files and auth user and the
rows that only pointed at them (D29), nothing else; a second run changes nothing; only service
runs it."""

from __future__ import annotations

import pytest

from soberharness.checker.functions import expected_after_deletion, judge_deletion
from soberharness.clients.functions import FunctionsClient
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for, sign
from soberharness.workload.functions_calls import call_as, callers, row_names, world_rows
from soberharness.world.entities import Privacy
from soberharness.world.matrix_world import MatrixWorld

pytestmark = [pytest.mark.needs("functions", "postgres"), pytest.mark.destructive]


def test_a_due_request_removes_the_account_and_only_what_follows_it(
    functions: FunctionsClient, fresh_world: MatrixWorld, functions_dsn: str, jwt_secret: str
) -> None:
    gone = fresh_world.owners[Privacy.COMMUNITY].id
    users = list(fresh_world.world.users)
    token = sign(claims_for(fresh_world.actors["service"]), jwt_secret)
    first = functions.call("delete-my-account", token, json={"users": [str(gone)]})
    again = functions.call("delete-my-account", token, json={"users": [str(gone)]})
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        rows = world_rows(conn, users)
    assert (first.status, first.body["deleted"]) == (200, [str(gone)])
    assert (again.status, again.body["deleted"]) == (200, [])
    problems = judge_deletion(expected_after_deletion(fresh_world.world, gone), rows,
                              row_names(fresh_world))
    assert not problems, "\n".join(problems)


def test_only_service_runs_the_worker(
    functions: FunctionsClient, fresh_world: MatrixWorld, functions_dsn: str, jwt_secret: str
) -> None:
    users = list(fresh_world.world.users)
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        before = world_rows(conn, users)
    wrong = [(c.actor, c.token_label, call.status) for c in callers(fresh_world, jwt_secret)
             if c.actor != "service"
             for call in [call_as(functions, "delete-my-account", c, json={})]
             if call.status != 403]
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        assert world_rows(conn, users) == before
    assert not wrong, wrong
