"""Random small worlds: for every viewer, the rows the database returns per table equal the
access model's. Hypothesis shrinks a failure to a minimal world."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from soberharness.db import session as db_session
from soberharness.runner.visibility import compare_world
from soberharness.world.entities import World
from soberharness.world.strategies import worlds


@pytest.fixture(scope="module")
def world_connection(module_database: str) -> Iterator[psycopg.Connection]:
    with db_session.connect(module_database) as conn:
        yield conn


@pytest.mark.needs("postgres")
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds(max_users=5))
def test_every_viewer_reads_what_the_model_allows(
    world_connection: psycopg.Connection, world: World
) -> None:
    diffs = compare_world(world_connection, world)
    assert not diffs, "\n".join(d.describe() for d in diffs)
