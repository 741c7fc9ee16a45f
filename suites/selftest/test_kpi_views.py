"""The KPI views of migration 0016_kpi_views on a local database:
- planted: a grant that lets an API role read a KPI view, or run the Realtime subscriber count,
  is reported as exactly that role and object (suites/security/test_kpi_views_access.py);
- the Realtime subscriber count has no row without Realtime's table (no series, not 0), and
  counts distinct subscription ids once the table exists. The table is made here in the shape
  Realtime's own migrations give it (the columns the count reads); the count on a real Realtime
  runs on targets that have one."""

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


REALTIME_TABLE = """
create table realtime.subscription (
  id bigint generated always as identity primary key,
  subscription_id uuid not null,
  entity regclass not null,
  claims jsonb not null
)"""


def test_realtime_subscribers_without_and_with_realtimes_table(
        database: tuple[LocalTarget, str]) -> None:
    target, name = database
    with db_session.connect(target.admin_dsn(name), autocommit=True) as conn:
        count = "select subscribers from monitoring.realtime_subscribers()"
        assert conn.execute(count).fetchall() == []  # no Realtime: no row, no series
        conn.execute("begin")
        try:
            conn.execute(REALTIME_TABLE)
            assert conn.execute(count).fetchall() == [(0,)]
            # two postgres_changes entries: one on posts and comments (a row per table), one on
            # likes
            conn.execute(
                "insert into realtime.subscription (subscription_id, entity, claims) values "
                "('00000000-0000-1000-8000-000000000001', 'public.posts', '{}'), "
                "('00000000-0000-1000-8000-000000000001', 'public.comments', '{}'), "
                "('00000000-0000-1000-8000-000000000002', 'public.likes', '{}')")
            assert conn.execute(count).fetchall() == [(2,)]
        finally:
            conn.execute("rollback")
