"""Writing a world into a database (as the superuser, the way fixtures load data)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from soberharness.db.sql import auth_user_row, insert, row_of
from soberharness.world.entities import User, World

# Tables a world occupies, emptied between property-test examples.
WORLD_TABLES = (
    "storage.objects",
    "public.account_deletion_requests",
    "public.likes",
    "public.comments",
    "public.posts",
    "public.videos",
    "public.follows",
    "public.blocks",
    "public.profiles",
    "auth.users",
)


def world_statements(world: World) -> list[sql.Composable]:
    """INSERTs that create `world`, parents before children."""
    statements: list[sql.Composable] = [insert(auth_user_row(u)) for u in world.users.values()]
    statements += [insert(row_of(u)) for u in world.users.values() if u.has_profile]
    for entity in world.entities():
        if not isinstance(entity, User):
            statements.append(insert(row_of(entity)))
    return statements


def write_world(conn: psycopg.Connection, world: World) -> None:
    """Insert the world in one transaction (one round trip)."""
    body = sql.SQL(";\n").join(world_statements(world))
    with conn.transaction():
        conn.execute(body.as_bytes(conn))


def clear_world(conn: psycopg.Connection) -> None:
    names = sql.SQL(", ").join(sql.SQL(t) for t in WORLD_TABLES)
    conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(names).as_bytes(conn))


def remove_world(conn: psycopg.Connection, world: World) -> None:
    """Delete what `write_world` created (users cascade to their rows; objects by id)."""
    objects = [o.id for o in world.objects.values()]
    users = list(world.users)
    with conn.transaction():
        # As the Storage API does: the storage schema refuses a DELETE without this setting.
        conn.execute("SELECT set_config('storage.allow_delete_query', 'true', true)")
        conn.execute("DELETE FROM storage.objects WHERE id = ANY(%s)", (objects,))
        conn.execute("DELETE FROM auth.users WHERE id = ANY(%s)", (users,))


def leftovers(conn: psycopg.Connection, world: World) -> dict[str, int]:
    """Rows of `world` still present: users and storage objects (everything else cascades)."""
    users = conn.execute(
        "SELECT count(*) FROM auth.users WHERE id = ANY(%s)", (list(world.users),)
    ).fetchone()
    objects = conn.execute(
        "SELECT count(*) FROM storage.objects WHERE id = ANY(%s)",
        ([o.id for o in world.objects.values()],),
    ).fetchone()
    found = {
        "auth.users": users[0] if users else 0,
        "storage.objects": objects[0] if objects else 0,
    }
    return {k: v for k, v in found.items() if v}

