"""The realtime suite subscribes to exactly the tables the stack publishes to Realtime."""

from __future__ import annotations

import psycopg
import pytest

from soberharness.workload.realtime_fanout import PUBLISHED


@pytest.mark.needs("postgres")
def test_the_fanout_tables_are_the_publications(admin_connection: psycopg.Connection) -> None:
    rows = admin_connection.execute(
        "select schemaname, tablename from pg_publication_tables "
        "where pubname = 'supabase_realtime'").fetchall()
    assert {f"{schema}.{table}" for schema, table in rows} == {f"public.{t}" for t in PUBLISHED}
