"""Planted: a grant that lets an API role read a KPI view, or run the Realtime subscriber count,
is reported as exactly that role and object (suites/security/test_kpi_views_access.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.db import session as db_session
from soberharness.ops.kpi_access import api_readers
from soberharness.targets.local import LocalTarget


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[LocalTarget, str]]:
    target = LocalTarget(name="kpi-access")
    target.start()
    try:
        yield target, target.new_database("kpi")
    finally:
        target.stop()


@pytest.mark.parametrize(("grant", "expected"), [
    ("grant select on monitoring.sobertube_kpis to authenticated",
     ["authenticated may use view monitoring.sobertube_kpis"]),
    ("grant execute on function monitoring.realtime_subscribers() to anon",
     ["anon may use function monitoring.realtime_subscribers()"]),
    ("grant usage on schema monitoring to service_role",
     ["service_role may use schema monitoring"]),
])
def test_a_planted_grant_is_reported(database: tuple[LocalTarget, str], grant: str,
                                     expected: list[str]) -> None:
    target, name = database
    with db_session.connect(target.admin_dsn(name), autocommit=True) as conn:
        assert api_readers(conn) == []
        conn.execute("begin")
        try:
            conn.execute(grant)
            assert api_readers(conn) == expected
        finally:
            conn.execute("rollback")
