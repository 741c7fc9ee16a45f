"""The KPI views (migration 0016_kpi_views) count past RLS, so no API role may use them: schema
`monitoring`, its views and its functions are for the exporter's login and pg_monitor only."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.ops.kpi_access import api_readers, kpi_objects


@pytest.mark.needs("postgres")
def test_no_api_role_may_read_the_kpi_views(module_database: str) -> None:
    with db_session.connect(module_database, autocommit=True) as conn:
        objects = kpi_objects(conn)
        readers = api_readers(conn)
    assert {"schema monitoring", "view monitoring.sobertube_kpis",
            "function monitoring.realtime_subscribers()"} <= set(objects)
    assert readers == []
