"""notify: the outbox the triggers fill is delivered exactly once per event, never across a
block nor revealing what the recipient may not read (D30); only service drains it."""

from __future__ import annotations

import concurrent.futures

import pytest

from soberharness.checker.functions import judge_deliveries
from soberharness.clients.functions import FunctionsClient
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for, sign
from soberharness.workload.functions_calls import (
    call_as,
    callers,
    delivered_counts,
    fingerprint,
    outbox_events,
    pending_events,
    row_names,
)
from soberharness.world.matrix_world import MatrixWorld

pytestmark = [pytest.mark.needs("functions", "postgres"), pytest.mark.destructive]


def _drain(functions: FunctionsClient, token: str) -> int:
    answer = functions.call("notify", token, json={"limit": 10_000})
    assert answer.status == 200, answer.body
    return int(answer.body["processed"])


def test_concurrent_drains_deliver_each_event_once_and_as_the_rules_say(
    functions: FunctionsClient, fresh_world: MatrixWorld, functions_dsn: str, jwt_secret: str
) -> None:
    users = list(fresh_world.world.users)
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        events = outbox_events(conn, users)
    assert len(events) > 20, "the world's likes, comments and follows wrote outbox events"
    token = sign(claims_for(fresh_world.actors["service"]), jwt_secret)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: _drain(functions, token), range(3)))
    _drain(functions, token)  # a drain after the others finds nothing of these events
    ids = [e.id for e in events]
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        counts = delivered_counts(conn, ids)
        assert pending_events(conn, ids) == 0
    problems = judge_deliveries(fresh_world.world, events, counts, row_names(fresh_world))
    assert not problems, "\n".join(problems)
    assert 0 < len(counts) < len(events), "some events delivered, some withheld"


def test_only_service_drains_the_outbox(
    functions: FunctionsClient, fn_world: MatrixWorld, functions_dsn: str, jwt_secret: str
) -> None:
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        before = fingerprint(conn)
    wrong = [(c.actor, c.token_label, c.status) for c in callers(fn_world, jwt_secret)
             if c.actor != "service"
             for call in [call_as(functions, "notify", c, json={})] if call.status != 403]
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        assert fingerprint(conn) == before
    assert not wrong, wrong
