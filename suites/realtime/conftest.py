"""Fixtures of the Realtime suite: the endpoint and keys, the matrix world written where
Realtime listens (the target's own database, tagged with the run id and removed at the end),
and the writer (PostgREST with the actor's token when the target offers it, else SQL as
PostgREST runs it, as the owner of the row)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from soberharness.clients import realtime as rp
from soberharness.db import session as db_session
from soberharness.db.claims import sign
from soberharness.db.seed import leftovers, remove_world, write_world
from soberharness.report.run_report import RunReport
from soberharness.targets.base import Service, Target
from soberharness.workload import realtime_fanout as rf
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world

VSN: rp.Vsn = rp.VSN_2 if os.environ.get("SOBER_REALTIME_VSN") == "2.0.0" else rp.VSN_1


@pytest.fixture(scope="module")
def endpoint(target: Target) -> rf.RealtimeEndpoint:
    keys = target.keys
    if not keys.jwt_secret:
        pytest.skip(f"target '{target.name}' gives no JWT secret (jwt_secret_env): "
                    "subscribers cannot be signed in")
    anon = keys.anon_key or sign({"role": "anon", "iss": "soberharness",
                                  "exp": 4_102_444_800}, keys.jwt_secret)
    return rf.RealtimeEndpoint(target.url(Service.REALTIME), anon, keys.jwt_secret, VSN)


@pytest.fixture
def rt_world(target: Target, run_report: RunReport,
             request: pytest.FixtureRequest) -> Iterator[MatrixWorld]:
    """A matrix world of this test alone, in the database Realtime watches."""
    tag = re.sub(r"\W", "", request.node.name.removeprefix("test_"))[:12]
    mw = build_matrix_world(f"{run_report.run_id}_{tag}")
    dsn = target.admin_dsn()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, mw.world)
    try:
        yield mw
    finally:
        with db_session.connect(dsn, autocommit=True) as conn:
            remove_world(conn, mw.world)
            left = leftovers(conn, mw.world)
        if left:
            pytest.fail(f"the realtime world was not removed: {left}", pytrace=False)


@pytest.fixture
def writer(target: Target, endpoint: rf.RealtimeEndpoint) -> Iterator[rf.Writer]:
    if Service.REST in target.services:
        rest = rf.RestWriter(target.url(Service.REST), endpoint.apikey, endpoint.jwt_secret)
        yield rest
        rest.close()
        return
    with db_session.connect(target.admin_dsn(), autocommit=True) as conn:
        yield rf.SqlWriter(conn)
