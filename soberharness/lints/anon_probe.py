"""Lint (pgrls's class "a condition an anonymous session can satisfy"), judged by a live probe.

A policy such as `using (owner_id is not distinct from auth.uid())`, `using (auth.uid() is null
or ...)` or `coalesce(owner_id = auth.uid(), true)` admits rows *because* the session has no
user: `auth.uid()` is NULL for anon and for a token without a `sub` claim, and current_setting()
of an unset setting is NULL or ''. Whether a condition does so cannot be read reliably from its
text, so this lint asks the database, in the surface world (soberharness.world.surface_world)
written in one transaction that is rolled back at the end:

for every table with row level security that an API request reaches (the exposed schemas, and
tables an exposed invoker function or view reads: lints.definer_chains), and for each API role
holding SELECT on it, the rows the role reads with PostgREST's request settings and claims
that carry no `sub` are compared with the rows the same role reads as a signed-in stranger
(a fresh random `sub`, following no one, owning nothing). A row the identity-less session reads
and the stranger does not was admitted for lacking an identity: one finding per table, naming
the roles. Public reads (`using (not hidden)`) admit both alike and are not reported. Reads only
(a write as anon is refused by `anon_unexpected_grant`'s grants; `write_policy_broader_than_select`
probes writes).
"""

from __future__ import annotations

import dataclasses
import uuid

import psycopg
from psycopg import sql

from soberharness.clients.postgrest_sql import request_settings
from soberharness.db.seed import world_statements
from soberharness.lints.base import LintScope, rows
from soberharness.lints.definer_chains import invoker_reached_tables
from soberharness.records.results import LintFinding, Severity
from soberharness.world.entities import Role, Viewer
from soberharness.world.surface_world import SurfaceWorld

RULE = "policy_admits_anonymous"
API_ROLES = (Role.ANON.value, Role.AUTHENTICATED.value)

_TABLES = """
select n.nspname, c.relname, n.nspname || '.' || c.relname,
       array(select r from unnest(%(roles)s::text[]) r
             where pg_catalog.has_table_privilege(r, c.oid, 'SELECT'))
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and c.relrowsecurity
  and (n.nspname = any(%(schemas)s) or c.oid = any(%(reached)s::oid[]))
order by 3
"""


@dataclasses.dataclass(frozen=True)
class Admitted:
    table: str
    role: str
    rows: int  # rows read without an identity that the stranger cannot read


def _read(conn: psycopg.Connection, schema: str, name: str, claims: dict[str, str]) -> set[str]:
    viewer = Viewer(Role(claims["role"]))
    path = f"/storage/v1/object/{name}" if schema == "storage" else f"/rest/v1/{name}"
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(request_settings(viewer, "GET", path, claims=claims).as_bytes(conn))
            got = rows(conn, sql.SQL("select to_jsonb(r)::text from {}.{} as r").format(
                sql.Identifier(schema), sql.Identifier(name)).as_string(conn), {})
    except psycopg.Error:
        return set()  # refused: reads nothing
    return {r[0] for r in got}


def find_admitted(
    conn: psycopg.Connection, surface: SurfaceWorld, exposed_schemas: list[str]
) -> list[Admitted]:
    """Per table and role, rows an identity-less session reads that a stranger does not."""
    if conn.autocommit:
        raise ValueError("find_admitted needs a connection outside autocommit")
    found: list[Admitted] = []
    try:
        scope = LintScope(list(exposed_schemas), list(API_ROLES), [])
        reached = invoker_reached_tables(conn, scope)
        tables = rows(conn, _TABLES, {"schemas": list(exposed_schemas),
                                      "roles": list(API_ROLES), "reached": reached})
        conn.execute(sql.SQL(";\n").join(world_statements(surface.world)).as_bytes(conn))
        conn.execute(b"SET LOCAL statement_timeout = '5s'")
        for schema, name, label, readers in tables:
            for role in readers:
                bare = _read(conn, schema, name, {"role": role})
                stranger = _read(conn, schema, name, {"role": role, "sub": str(uuid.uuid4())})
                if bare - stranger:
                    found.append(Admitted(label, role, len(bare - stranger)))
    finally:
        conn.rollback()
    return found


def findings_of(admitted: list[Admitted]) -> list[LintFinding]:
    by_table: dict[str, list[Admitted]] = {}
    for a in admitted:
        by_table.setdefault(a.table, []).append(a)
    return [
        LintFinding(
            RULE, Severity.WARN, table,
            f"a session without a user ({', '.join(f'{a.role}: {a.rows} row(s)' for a in found)})"
            f" reads rows of {table} that a signed-in stranger cannot: a policy admits them "
            "because auth.uid() or a setting is NULL",
        )
        for table, found in sorted(by_table.items())
    ]


def anonymous_lint(
    conn: psycopg.Connection, surface: SurfaceWorld, exposed_schemas: list[str]
) -> list[LintFinding]:
    return findings_of(find_admitted(conn, surface, exposed_schemas))
