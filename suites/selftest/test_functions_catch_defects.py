"""Planted defects in the edge functions, each served by a real Deno from a modified copy of
stack/functions against a scratch database, and reported by the functions' checks as its
function, actor and row (or event)."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.checker.functions import (
    expected_after_deletion,
    judge_deletion,
    judge_deliveries,
    judge_export,
)
from soberharness.clients.functions import FunctionsClient
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for, sign
from soberharness.db.seed import write_world
from soberharness.targets.services.edge_functions import (
    copy_with_change,
    db_url_of,
    start_functions,
)
from soberharness.workload.functions_calls import (
    delivered_counts,
    export_calls,
    outbox_events,
    row_names,
    world_rows,
)
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world

pytestmark = pytest.mark.needs("functions", "postgres")

SECRET = "selftest-functions-secret-0123456789-abcdefghijklmnop"


@pytest.fixture
def world(scratch_database: str) -> MatrixWorld:
    mw = build_matrix_world("planted")
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
    return mw


def _planted(tmp_path: Path, function: str, changes: list[tuple[str, str]]) -> Path:
    folder = tmp_path / "functions"
    for i, (old, new) in enumerate(changes):
        copy_with_change(folder, function, old, new, **({"src": folder} if i else {}))
    return folder


def _served(tmp_path: Path, dsn: str, folder: Path) -> tuple[object, FunctionsClient]:
    process, url = start_functions(tmp_path / "run", db_url_of(dsn), SECRET,
                                   functions_dir=folder)
    return process, FunctionsClient(url)


def test_an_export_holding_a_blocked_users_comment_names_function_actor_and_row(
    tmp_path: Path, scratch_database: str, world: MatrixWorld
) -> None:
    folder = _planted(tmp_path, "export-my-data", [
        ("from public.comments where author_id = ${me} order by",
         "from public.comments where author_id = ${me} or post_id in "
         "(select id from public.posts where author_id = ${me}) order by"),
        ("asCaller(claims,", 'asCaller({ ...claims, role: "service_role" },'),
    ])
    process, client = _served(tmp_path, scratch_database, folder)
    try:
        calls = export_calls(client, world, SECRET)
    finally:
        client.close()
        process.stop()  # type: ignore[attr-defined]
    lines = {f.line() for c in calls for f in judge_export(c, world.world, row_names(world))}
    assert (
        "export-my-data as self (privacy=public, token=forged aal2): row "
        "comments/blocked_comments/public: exported although the rules keep it out"
    ) in lines


def test_a_notification_across_a_block_names_the_event(
    tmp_path: Path, scratch_database: str, world: MatrixWorld
) -> None:
    folder = _planted(tmp_path, "notify", [
        ("const ok = await deliverable(tx, e, claims);", "const ok = true;"),
    ])
    process, client = _served(tmp_path, scratch_database, folder)
    try:
        answer = client.call("notify", sign(claims_for(world.actors["service"]), SECRET),
                             json={})
    finally:
        client.close()
        process.stop()  # type: ignore[attr-defined]
    assert answer.status == 200
    with db_session.connect(scratch_database, autocommit=True) as conn:
        events = outbox_events(conn, list(world.world.users))
        counts = delivered_counts(conn, [e.id for e in events])
    problems = judge_deliveries(world.world, events, counts, row_names(world))
    assert any(
        p.endswith("(comment by blocked to O_private, comments/blocked_comments/private): "
                   "delivered 1 times, the rules withhold it") for p in problems
    ), problems


def test_a_deletion_that_leaves_a_like_names_the_like(
    tmp_path: Path, scratch_database: str, world: MatrixWorld
) -> None:
    folder = _planted(tmp_path, "delete-my-account", [
        ("await tx`delete from auth.users where id = ${user}`;",
         "await tx`delete from public.comments where author_id = ${user}`;"
         "await tx`delete from public.account_deletion_requests where user_id = ${user}`;"),
    ])
    gone = world.users["follower"].id
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute("insert into public.account_deletion_requests (user_id, requested_at) "
                     "values (%s, '2026-01-01')", (gone,))
    process, client = _served(tmp_path, scratch_database, folder)
    try:
        answer = client.call("delete-my-account",
                             sign(claims_for(world.actors["service"]), SECRET),
                             json={"users": [str(gone)]})
    finally:
        client.close()
        process.stop()  # type: ignore[attr-defined]
    assert answer.status == 200, answer.body
    with db_session.connect(scratch_database, autocommit=True) as conn:
        rows = world_rows(conn, list(world.world.users))
    problems = judge_deletion(expected_after_deletion(world.world, gone), rows, row_names(world))
    assert "likes/follower_likes/public left behind" in problems, problems


# A worker whose "recovery" after a restart requeues what it recently delivered: the copies in
# the outbox carry new ids, so the database's one-delivery-per-event-id does not stop them.
_REQUEUE_AFTER_RESTART = [
    ('import { actAs, asCaller, type Tx, userClaims } from "../_shared/db.ts";',
     'import { actAs, asCaller, database, type Tx, userClaims } from "../_shared/db.ts";\n'
     "let recovered = false;"),
    ("  const { ids, limit } = requested(call.body);",
     "  if (!recovered) {\n"
     "    recovered = true;\n"
     "    await database()`insert into private.notification_outbox\n"
     "      (kind, actor_id, recipient_id, source_table, source_id)\n"
     "      select kind, actor_id, recipient_id, source_table, source_id\n"
     "      from private.notification_outbox where outcome = 'delivered'`;\n"
     "  }\n"
     "  const { ids, limit } = requested(call.body);"),
]


@pytest.mark.destructive
def test_a_worker_that_double_delivers_after_a_restart_names_the_events(
    target: object, tmp_path: Path
) -> None:
    from soberharness.chaos.outbox import run_drill
    from soberharness.chaos.stack import ChaosStack
    from soberharness.targets.base import StackHost, lacks

    if not isinstance(target, StackHost):
        pytest.skip(lacks(target, StackHost))  # type: ignore[arg-type]
    folder = _planted(tmp_path, "notify", _REQUEUE_AFTER_RESTART)
    with ChaosStack("clean", writers=1, host=target) as stack:
        drill = run_drill(stack, SECRET, tmp_path / "worker", functions_dir=folder)
    assert not drill.result.ok
    # The first batch was delivered before the worker was killed; the restarted worker
    # requeued exactly those and delivered them again. Nothing else is wrong.
    assert drill.first_batch
    assert set(drill.result.violations["duplicated"]) == set(drill.first_batch), drill.lines
    assert {k for k, v in drill.result.violations.items() if v} == {"duplicated"}, drill.lines
    assert all(line.startswith("notify: event ") and line.endswith(": duplicated")
               for line in drill.lines), drill.lines
    assert any(" by " in line and " to " in line for line in drill.lines), drill.lines
