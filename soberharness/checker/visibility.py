"""Which rows each viewer reads, per table: the database against the access model.

The world is written and read inside one transaction that is rolled back, so the check
leaves nothing behind (and works on a database shared with others). Each viewer's reads
run after the same role switch and claims PostgREST applies to a request.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import psycopg
from psycopg import sql

from soberharness.access.model import AccessModel, Key, key_of, table_of
from soberharness.clients.postgrest_sql import request_settings
from soberharness.db.seed import world_statements
from soberharness.db.sql import LIST_KEYS
from soberharness.world.entities import User, Viewer, World
from soberharness.world.strategies import all_viewers


@dataclasses.dataclass(frozen=True)
class VisibilityDiff:
    viewer: Viewer
    table: str
    missing: frozenset[Key]  # the model says visible, the database hid it
    extra: frozenset[Key]  # the database showed it, the model says hidden

    def describe(self) -> str:
        who = self.viewer.role.value
        if self.viewer.user_id:
            who += f" {self.viewer.user_id}" + (" (moderator)" if self.viewer.moderator else "")
        return (
            f"{who} reading {self.table}: missing {sorted(map(str, self.missing))}, "
            f"extra {sorted(map(str, self.extra))}"
        )


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
    model = AccessModel(world)
    ours = world_keys(world)
    diffs: list[VisibilityDiff] = []
    try:
        conn.execute(sql.SQL(";\n").join(world_statements(world)).as_bytes(conn))
        for viewer in all_viewers(world):
            expected = model.visible(viewer)
            actual = observed(conn, viewer)
            for table in LIST_KEYS:
                want = {_normal(k) for k in expected.get(table, set())}
                got = actual[table] & ours[table]  # a shared database holds others' rows
                if want != got:
                    diffs.append(
                        VisibilityDiff(viewer, table, frozenset(want - got), frozenset(got - want))
                    )
    finally:
        conn.rollback()
    return diffs


def world_keys(world: World) -> dict[str, set[Key]]:
    """Keys of every row of `world`, per table, in the shape `observed` returns."""
    keys: dict[str, set[Key]] = {table: set() for table in LIST_KEYS}
    for entity in world.entities():
        if isinstance(entity, User) and not entity.has_profile:
            continue
        keys[table_of(entity)].add(_normal(key_of(entity)))
    return keys


def _normal(key: Key) -> Key:
    if isinstance(key, tuple):
        return (uuid.UUID(str(key[0])), uuid.UUID(str(key[1])))
    return uuid.UUID(str(key))
