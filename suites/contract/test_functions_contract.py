"""schemathesis against the edge functions' own OpenAPI description (GET /openapi.json of the
main service): no 5xx, every answer within its schema. Read-only operations only (milestones,
export-my-data), as a signed-in user of a world written for the run."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import ignored_auth

from soberharness.db.claims import claims_for, sign
from soberharness.db.seed import remove_world, write_world
from soberharness.targets.base import Service, Target
from soberharness.world.matrix_world import build_matrix_world

pytestmark = pytest.mark.needs("functions", "postgres")


@pytest.fixture(scope="module")
def api(target: Target) -> Iterator[tuple[schemathesis.BaseSchema, str]]:
    base = target.url(Service.FUNCTIONS)
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    schema.config.base_url = base  # type: ignore[attr-defined]
    mw = build_matrix_world("contract")
    dsn = target.service_dsn(Service.FUNCTIONS)
    with psycopg.connect(dsn, autocommit=True) as conn:
        remove_world(conn, mw.world)
        write_world(conn, mw.world)
    secret = target.keys.jwt_secret or ""
    try:
        yield schema, sign(claims_for(mw.actors["follower"]), secret)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            remove_world(conn, mw.world)


def test_functions_answer_within_their_description(
    api: tuple[schemathesis.BaseSchema, str],
) -> None:
    schema, token = api
    base = schema.config.base_url  # type: ignore[attr-defined]
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            # The token is passed by hand, so schemathesis' "ignored auth" probe would send it
            # too: the refused tokens are the functions suite's (test_main_service.py).
            case.call_and_validate(headers={"authorization": f"Bearer {token}"},
                                   base_url=base, excluded_checks=[ignored_auth])

        try:
            run()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            failures.append(f"{operation.label}: {' | '.join(str(exc).splitlines()[:8])}")
    assert not failures, "\n".join(failures)
