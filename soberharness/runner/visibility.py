"""Which rows each viewer reads, per table, read from the database; judged against the access
model by soberharness.checker.visibility.

The world is written and read inside one transaction that is rolled back, so the check
leaves nothing behind (and works on a database shared with others). Each viewer's reads
run after the same role switch and claims PostgREST applies to a request.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from soberharness.access.model import Key
from soberharness.checker.visibility import VisibilityDiff, compare
from soberharness.clients.postgrest_sql import request_settings
from soberharness.db.seed import world_statements
from soberharness.db.sql import LIST_KEYS
from soberharness.world.entities import Viewer, World
from soberharness.world.strategies import all_viewers


def _key(row: tuple[object, ...]) -> Key:
    if len(row) == 1:
        return row[0]  # type: ignore[return-value]
    return (row[0], row[1])  # type: ignore[return-value]


def observed(
    conn: psycopg.Connection, viewer: Viewer, claims: dict[str, Any] | None = None
) -> dict[str, set[Key]]:
    """Rows the viewer reads, per table, in the current transaction (with exactly `claims`
    when given: a real token's payload)."""
    parts = [request_settings(viewer, "GET", "/rest/v1/", claims=claims)]
    parts += [sql.SQL(q) for q in LIST_KEYS.values()]
    parts.append(sql.SQL("SET LOCAL ROLE NONE"))
    cur = conn.cursor()
    cur.execute(sql.SQL(";\n").join(parts).as_bytes(conn))
    seen: dict[str, set[Key]] = {}
    for table in LIST_KEYS:
        cur.nextset()
        seen[table] = {_key(tuple(r)) for r in cur.fetchall()}
    return seen


def observed_in(conn: psycopg.Connection, world: World, viewer: Viewer) -> dict[str, set[Key]]:
    """Write `world` in a transaction, read it as `viewer`, roll back."""
    if conn.autocommit:
        raise ValueError("observed_in needs a connection outside autocommit")
    try:
        conn.execute(sql.SQL(";\n").join(world_statements(world)).as_bytes(conn))
        return observed(conn, viewer)
    finally:
        conn.rollback()


def compare_world(conn: psycopg.Connection, world: World) -> list[VisibilityDiff]:
    """Write `world` in a transaction, read it as every viewer, compare, roll back."""
    if conn.autocommit:
        raise ValueError("compare_world needs a connection outside autocommit")
    try:
        conn.execute(sql.SQL(";\n").join(world_statements(world)).as_bytes(conn))
        seen = {viewer: observed(conn, viewer) for viewer in all_viewers(world)}
    finally:
        conn.rollback()
    return compare(world, seen)
