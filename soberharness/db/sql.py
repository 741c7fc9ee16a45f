"""The world's entities as rows and statements of the SoberTube schema (see stack/README.md);
the tables themselves (names, keys, columns) are declared in soberharness.world.tables."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import functools
import json
from typing import Any

from psycopg import sql

from soberharness.world import tables
from soberharness.world.entities import (
    Entity,
    User,
    World,
)


@dataclasses.dataclass(frozen=True)
class Row:
    schema: str
    table: str
    values: dict[str, Any]
    key: tuple[str, ...]

    @property
    def name(self) -> sql.SQL:
        return sql.SQL(f"{ident(self.schema)}.{ident(self.table)}")

    def where(self) -> sql.SQL:
        return sql.SQL(" AND ".join(f"{ident(col)} = {literal(self.values[col])}"
                                    for col in self.key))


# Statements are written out as text: psycopg's composition (sql.SQL.format) cost more than the
# database's work for the matrix's thousands of statements. Each piece is rendered exactly as
# composing it would render it (suites/selftest/test_row_statements.py compares the two).
@functools.lru_cache(maxsize=1024)  # the schema's names: a few dozen
def ident(name: str) -> str:
    """`name` as sql.Identifier renders it."""
    return sql.Identifier(name).as_bytes(None).decode()


# Values equal to others that render differently (-0.0 and 0.0, Decimal 1.0 and 1.00, the same
# instant at two offsets): never remembered.
_RENDERED_AFRESH = (float, decimal.Decimal, datetime.datetime, datetime.time)


def literal(value: Any) -> str:
    """`value` as sql.Literal renders it without a connection (remembered per hashable value:
    the matrix renders the same ids and texts thousands of times)."""
    if isinstance(value, _RENDERED_AFRESH):
        return _render(value)
    try:
        return _literal(value, type(value))
    except TypeError:  # unhashable (a dict or list for a JSON column)
        return _render(value)


def _render(value: Any) -> str:
    return sql.Literal(value).as_bytes(None).decode()


@functools.lru_cache(maxsize=1 << 16)
def _literal(value: Any, kind: type) -> str:
    """`kind` keeps equal values of different types apart (True and 1, 1 and 1.0)."""
    return _render(value)


def row_of(entity: Entity) -> Row:
    table = tables.table_for(entity)
    return Row(table.schema, table.table, table.values(entity), table.key_columns)


def auth_user_row(user: User) -> Row:
    """The auth.users row GoTrue would hold for `user` (moderators carry app_metadata.role)."""
    app_meta: dict[str, Any] = {"provider": "email", "providers": ["email"]}
    if user.moderator:
        app_meta["role"] = "moderator"
    return Row(
        "auth",
        "users",
        {
            "id": user.id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": user.email,
            "raw_app_meta_data": json.dumps(app_meta),
            "raw_user_meta_data": "{}",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        },
        ("id",),
    )


def insert(row: Row) -> sql.SQL:
    columns = list(row.values)
    return sql.SQL(f"INSERT INTO {row.name.as_string(None)} ({', '.join(map(ident, columns))}) "
                   f"VALUES ({', '.join(literal(row.values[c]) for c in columns)})")


def select_one(row: Row) -> sql.SQL:
    return sql.SQL(f"SELECT 1 FROM {row.name.as_string(None)} WHERE {row.where().as_string(None)}")


def update(before: Row, after: Row) -> sql.SQL:
    changed = {c: v for c, v in after.values.items() if before.values.get(c) != v}
    if not changed:  # a no-op update still runs, as PostgREST would send it
        column = next(c for c in after.values if c not in before.key)
        changed = {column: after.values[column]}
    sets = ", ".join(f"{ident(c)} = {literal(v)}" for c, v in changed.items())
    return sql.SQL(f"UPDATE {before.name.as_string(None)} SET {sets} "
                   f"WHERE {before.where().as_string(None)}")


def delete(row: Row) -> sql.SQL:
    return sql.SQL(f"DELETE FROM {row.name.as_string(None)} WHERE {row.where().as_string(None)}")


# Keys of every readable row per table, in the same shape as AccessModel.visible().
LIST_KEYS: dict[str, str] = {t.name: t.list_keys for t in tables.READ if t.list_keys}

# The schema's tables the access model judges: qualified name -> (model table, key columns in
# the order of AccessModel's keys). A row of one of these, wherever a function or view returns
# it, is judged by its key.
MODEL_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    t.qualified: (t.name, t.key_columns) for t in tables.REGISTRY if t.surface
}


def rows_below_auth(world: World) -> list[sql.Composable]:
    """The world's rows below auth.users, for users GoTrue already made."""
    statements: list[sql.Composable] = [insert(row_of(u)) for u in world.users.values()]
    statements += [insert(row_of(e)) for e in world.entities() if not isinstance(e, User)]
    return statements
