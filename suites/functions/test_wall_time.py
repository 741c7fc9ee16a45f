"""The wall-time limit: a request still running after FUNCTIONS_WALL_TIME_MS is answered 504
with the one error shape, whether the function waits on the database (its transaction ends by
its statement/lock timeout and changes nothing) or on itself (the main service's timer), and the
main service counts it as that function's error. A main service of its own, with a short limit,
against a throwaway database (local target)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.clients.functions import FunctionsClient
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for, sign
from soberharness.db.seed import write_world
from soberharness.targets.services.edge_functions import (
    STACK_FUNCTIONS,
    FunctionsLimits,
    db_url_of,
    start_functions,
)
from soberharness.workload.functions_calls import fingerprint
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world

pytestmark = pytest.mark.needs("functions", "postgres")

SECRET = "wall-time-secret-0123456789-abcdefghijklmnopqrstu"
WALL_MS = 1500
# A function that outlives any wall time on its own (no database involved).
NEVER_ENDS = """export const methods = ["POST"] as const;
export async function handle(): Promise<Response> {
  await new Promise((resolve) => setTimeout(resolve, 120_000));
  return new Response("too late");
}
"""


@pytest.fixture
def served(tmp_path: Path, scratch_database: str
           ) -> Iterator[tuple[FunctionsClient, str, MatrixWorld]]:
    folder = tmp_path / "functions"
    shutil.copytree(STACK_FUNCTIONS, folder)
    (folder / "never-ends").mkdir()
    (folder / "never-ends" / "index.ts").write_text(NEVER_ENDS)
    mw = build_matrix_world("walltime")
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
    process, url = start_functions(tmp_path / "run", db_url_of(scratch_database), SECRET,
                                   functions_dir=folder,
                                   limits=FunctionsLimits(wall_time_ms=WALL_MS))
    client = FunctionsClient(url)
    try:
        yield client, scratch_database, mw
    finally:
        client.close()
        process.stop()


def _is_wall_time_error(status: int, body: object) -> bool:
    return (status == 504 and isinstance(body, dict) and set(body) == {"error"}
            and body["error"].get("code") == "wall_time_exceeded"
            and set(body["error"]) == {"code", "message"})


def _errors_504(client: FunctionsClient, function: str) -> float:
    line = f'sobertube_function_requests_total{{function="{function}",status="504"}} '
    return sum(float(x.split()[-1]) for x in client.metrics().splitlines() if x.startswith(line))


def test_a_function_waiting_on_the_database_past_its_wall_time_gets_504_and_changes_nothing(
    served: tuple[FunctionsClient, str, MatrixWorld],
) -> None:
    client, dsn, mw = served
    token = sign(claims_for(mw.actors["service"]), SECRET)
    with db_session.connect(dsn, autocommit=True) as conn:
        before = fingerprint(conn)
    with db_session.connect(dsn) as holder:  # the outbox locked: every drain waits on it
        holder.execute("lock table private.notification_outbox in access exclusive mode")
        answer = client.call("notify", token, json={})
        holder.rollback()
    assert _is_wall_time_error(answer.status, answer.body), (answer.status, answer.body)
    with db_session.connect(dsn, autocommit=True) as conn:
        assert fingerprint(conn) == before
    assert _errors_504(client, "notify") == 1
    assert client.call("notify", token, json={}).status == 200  # and it serves on


def test_a_function_running_past_its_wall_time_on_its_own_gets_504(
    served: tuple[FunctionsClient, str, MatrixWorld],
) -> None:
    client, _dsn, mw = served
    answer = client.call("never-ends", sign(claims_for(mw.actors["follower"]), SECRET), json={})
    assert _is_wall_time_error(answer.status, answer.body), (answer.status, answer.body)
    assert f"longer than {WALL_MS} ms" in answer.body["error"]["message"]
    assert _errors_504(client, "never-ends") == 1
