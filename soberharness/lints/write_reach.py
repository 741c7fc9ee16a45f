"""Lint: INSERT, UPDATE and DELETE policies that reach rows the SELECT policies hide.

PostgreSQL applies a table's SELECT policies to an UPDATE or DELETE only when the statement
reads the row (a WHERE clause or RETURNING naming its columns). PostgREST's filtered requests
do, so the matrix never sees the difference; a bare `DELETE FROM t` or `UPDATE t SET c = ...`
(PostgREST without filters, any SQL client, a function) does not, and changes every row the
UPDATE/DELETE policy lets through, seen or not (docs/access-decisions.md, decision 1: you change
only what you can see).

Whether one policy is broader than another cannot be read from their text, so this lint asks the
database, in the surface world (soberharness.world.surface_world), in one transaction rolled
back at the end: a probe trigger that fires first (`BEFORE UPDATE OR DELETE`, named to sort
before every other trigger) records the key of each row a statement reaches and skips the row
(returns NULL: nothing changes, no later trigger, no WITH CHECK, no cascade). As every actor,
`UPDATE t SET c = DEFAULT` and `DELETE FROM t` run bare; the rows they reach are compared with
the rows the same actor SELECTs. Tables: every table with RLS in an exposed schema; for UPDATE,
a column the role may update. Rows outside the world count too (they are real rows reachable).
The probe's DDL is rolled back with the rest; on a shared database it holds its tables' locks
for the probe's duration (about a second).

INSERT is probed too (a permissive INSERT policy without WITH CHECK, or one broader than
SELECT): as every actor holding INSERT, a copy of each row it cannot read (up to
`INSERT_SAMPLE` per table and actor) is inserted with the columns it may insert, a key column
with a default left to its default. PostgreSQL checks the INSERT policies' WITH CHECK before
the unique indexes, so an insert that succeeds, or fails only on a unique key, passed the
policies; it reaches a row the actor cannot read when the actor's count of readable rows does
not grow (a trigger that rewrites the row to the actor's own makes it readable, and fine).
"""

from __future__ import annotations

import dataclasses

import psycopg
from psycopg import sql

from soberharness.clients.postgrest_sql import request_settings
from soberharness.db.seed import world_statements
from soberharness.lints.base import rows
from soberharness.records.results import LintFinding, Severity
from soberharness.world.entities import Role, Viewer
from soberharness.world.surface_world import SurfaceWorld

RULE = "write_policy_broader_than_select"
PROBE_SCHEMA = "soberharness_probe"
PROBE_TRIGGER = "!soberharness_probe"  # '!' sorts before letters, digits and '_'
PROBE_SETTING = "soberharness.probe"
INSERT_SAMPLE = 12  # hidden rows tried per table and actor

_INSERT_COLUMNS = """
select r, array(
    select a.attname::text from pg_catalog.pg_attribute a
    where a.attrelid = %(oid)s and a.attnum > 0 and not a.attisdropped
      and a.attgenerated = '' and a.attidentity <> 'a'
      and pg_catalog.has_column_privilege(r, a.attrelid, a.attnum, 'INSERT')
      and not (a.atthasdef and a.attname::text = any(%(key)s::text[]))
    order by a.attnum)
from unnest(%(roles)s::text[]) r
where pg_catalog.has_any_column_privilege(r, %(oid)s, 'INSERT')
"""

_TABLES = """
select c.oid, n.nspname, c.relname, n.nspname || '.' || c.relname,
       coalesce(
           (select array_agg(a.attname::text order by k.i)
            from pg_catalog.pg_index x
            cross join unnest(x.indkey::int2[]) with ordinality as k(attnum, i)
            join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
            where x.indrelid = c.oid and x.indisprimary),
           array(select a.attname::text from pg_catalog.pg_attribute a
                 where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                 order by a.attnum)) as key,
       array(select r || '=' || coalesce((
                 select a.attname::text from pg_catalog.pg_attribute a
                 where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                   and a.attgenerated = '' and a.attidentity = ''
                   and pg_catalog.has_column_privilege(r, c.oid, a.attnum, 'UPDATE')
                 order by a.attnum desc limit 1), '')
             from unnest(%(roles)s::text[]) r) as update_columns,
       array(select r from unnest(%(roles)s::text[]) r
             where pg_catalog.has_table_privilege(r, c.oid, 'DELETE')) as deleters,
       array(select r from unnest(%(roles)s::text[]) r
             where pg_catalog.has_any_column_privilege(r, c.oid, 'SELECT')) as readers
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and c.relrowsecurity and n.nspname = any(%(schemas)s)
order by 4
"""

_PROBE_FUNCTION = f"""
create function {PROBE_SCHEMA}.record() returns trigger language plpgsql as $probe$
declare
  k text := '';
  c text;
begin
  foreach c in array tg_argv loop
    k := k || coalesce(to_jsonb(old) ->> c, '') || '|';
  end loop;
  perform set_config('{PROBE_SETTING}',
                     coalesce(current_setting('{PROBE_SETTING}', true), '') || k || chr(10), true);
  return null;
end
$probe$
"""


@dataclasses.dataclass(frozen=True)
class Reach:
    table: str
    op: str  # "update" | "delete" | "insert"
    actor: str
    key: str  # the key's columns as text, '|'-separated


@dataclasses.dataclass(frozen=True)
class _Table:
    oid: int
    schema: str
    name: str
    label: str
    key: tuple[str, ...]
    update_column: dict[str, str]  # role -> a column it may update ('' for none)
    deleters: frozenset[str]
    readers: frozenset[str]


def _key_expr(key: tuple[str, ...]) -> sql.Composable:
    parts: list[sql.Composable] = []
    for column in key:
        parts.append(sql.SQL("coalesce(to_jsonb(r) ->> {}, '') || '|'").format(
            sql.Literal(column)))
    return sql.SQL(" || ").join(parts)


def find_reaches(
    conn: psycopg.Connection, surface: SurfaceWorld, exposed_schemas: list[str]
) -> list[Reach]:
    """Rows each actor's bare UPDATE/DELETE reaches but its SELECT does not (rolled back)."""
    if conn.autocommit:
        raise ValueError("find_reaches needs a connection outside autocommit")
    roles = [Role.ANON.value, Role.AUTHENTICATED.value]
    found: list[Reach] = []
    try:
        tables = [
            _Table(oid, schema, name, label, tuple(key),
                   dict(item.split("=", 1) for item in update_columns), frozenset(deleters),
                   frozenset(readers))
            for oid, schema, name, label, key, update_columns, deleters, readers in rows(
                conn, _TABLES, {"schemas": exposed_schemas, "roles": roles})
        ]
        conn.execute(sql.SQL(";\n").join(world_statements(surface.world)).as_bytes(conn))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(PROBE_SCHEMA))
                     .as_bytes(conn))
        conn.execute(_PROBE_FUNCTION.encode())
        for t in tables:
            conn.execute(sql.SQL(
                "create trigger {} before update or delete on {}.{} for each row "
                "execute function {}.record({})"
            ).format(
                sql.Identifier(PROBE_TRIGGER), sql.Identifier(t.schema), sql.Identifier(t.name),
                sql.Identifier(PROBE_SCHEMA), sql.SQL(", ").join(map(sql.Literal, t.key)),
            ).as_bytes(conn))
        conn.execute(b"SET LOCAL statement_timeout = '5s'")
        for t in tables:
            for actor, viewer in surface.viewers.items():
                if viewer.role is Role.SERVICE:
                    continue  # bypasses RLS by design
                role = viewer.role.value
                statements: dict[str, sql.Composable] = {}
                if t.update_column.get(role):
                    statements["update"] = sql.SQL("UPDATE {}.{} SET {} = DEFAULT").format(
                        sql.Identifier(t.schema), sql.Identifier(t.name),
                        sql.Identifier(t.update_column[role]))
                if role in t.deleters:
                    statements["delete"] = sql.SQL("DELETE FROM {}.{}").format(
                        sql.Identifier(t.schema), sql.Identifier(t.name))
                for op, statement in statements.items():
                    reached = _probe(conn, t, viewer, op, statement)
                    found += [Reach(t.label, op, actor, k) for k in sorted(reached)]
        found += _insert_reaches(conn, tables, surface, roles)
    finally:
        conn.rollback()
    return found


def _probe(conn: psycopg.Connection, t: _Table, viewer: Viewer, op: str,
           statement: sql.Composable) -> set[str]:
    text = sql.SQL(";\n").join([
        sql.SQL("SAVEPOINT write_reach"),
        # Storage rows are written through the Storage API (its path sets
        # storage.allow_delete_query, as the API does); everything else through PostgREST.
        request_settings(viewer, "PATCH" if op == "update" else "DELETE",
                         f"/storage/v1/object/{t.name}" if t.schema == "storage"
                         else f"/rest/v1/{t.name}"),
        sql.SQL("SELECT set_config({}, '', true)").format(sql.Literal(PROBE_SETTING)),
        statement,
        sql.SQL("SELECT current_setting({})").format(sql.Literal(PROBE_SETTING)),
        # What the actor reads (nothing without a SELECT privilege).
        sql.SQL("SELECT {} FROM {}.{} AS r").format(
            _key_expr(t.key), sql.Identifier(t.schema), sql.Identifier(t.name))
        if viewer.role.value in t.readers else sql.SQL("SELECT NULL WHERE false"),
        sql.SQL("ROLLBACK TO SAVEPOINT write_reach"),
    ]).as_bytes(conn)
    cur = conn.cursor()
    try:
        cur.execute(text)
    except psycopg.Error:
        conn.execute(b"ROLLBACK TO SAVEPOINT write_reach")
        return set()  # refused outright (a privilege, a statement-level trigger): reaches nothing
    for _ in range(4):
        cur.nextset()
    row = cur.fetchone()
    reached = {k for k in (row[0] if row else "").split("\n") if k}
    cur.nextset()
    seen = {r[0] for r in cur.fetchall()}
    return reached - seen


def _path(t: _Table) -> str:
    return f"/storage/v1/object/{t.name}" if t.schema == "storage" else f"/rest/v1/{t.name}"


def _as_viewer(conn: psycopg.Connection, t: _Table, viewer: Viewer, method: str,
               statement: sql.Composable) -> list[tuple]:
    """`statement` run as `viewer` in a savepoint rolled back; its rows (none if refused)."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(request_settings(viewer, method, _path(t)).as_bytes(conn))
            return list(conn.execute(statement.as_bytes(conn)).fetchall())
    except psycopg.Error:
        return []


def _insert_reaches(conn: psycopg.Connection, tables: list[_Table], surface: SurfaceWorld,
                    roles: list[str]) -> list[Reach]:
    found: list[Reach] = []
    for t in tables:
        columns = dict(rows(conn, _INSERT_COLUMNS, {"oid": t.oid, "key": list(t.key),
                                                    "roles": roles}))
        if not columns:
            continue
        relation = sql.SQL("{}.{}").format(sql.Identifier(t.schema), sql.Identifier(t.name))
        read = sql.SQL("SELECT to_jsonb(r)::text, {} FROM {} AS r").format(
            _key_expr(t.key), relation)
        every = {doc: key for doc, key in conn.execute(read.as_bytes(conn)).fetchall()}
        count = sql.SQL("SELECT count(*) FROM {}").format(relation)
        for actor, viewer in surface.viewers.items():
            insertable = columns.get(viewer.role.value)
            if viewer.role is Role.SERVICE or not insertable:
                continue
            seen = {doc for doc, _ in _as_viewer(conn, t, viewer, "GET", read)}
            hidden = sorted(set(every) - seen)[:INSERT_SAMPLE]
            names = sql.SQL(", ").join(map(sql.Identifier, insertable))
            for doc in hidden:
                insert = sql.SQL(
                    "INSERT INTO {} ({}) SELECT {} FROM jsonb_populate_record(NULL::{}, {})"
                ).format(relation, names, names, relation, sql.Literal(doc))
                if _insert_passes(conn, t, viewer, insert, count):
                    found.append(Reach(t.label, "insert", actor, every[doc]))
    return found


def _insert_passes(conn: psycopg.Connection, t: _Table, viewer: Viewer,
                   insert: sql.Composable, count: sql.Composable) -> bool:
    """Whether `insert`, as `viewer`, passes the policies and leaves a row it cannot read."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(request_settings(viewer, "POST", _path(t)).as_bytes(conn))
            before = conn.execute(count.as_bytes(conn)).fetchone()
            try:
                with conn.transaction():
                    conn.execute(insert.as_bytes(conn))
            except psycopg.errors.UniqueViolation:
                return True  # the WITH CHECK passed; the copy is of a row it cannot read
            after = conn.execute(count.as_bytes(conn)).fetchone()
            return bool(before and after and after[0] == before[0])
    except psycopg.Error:
        return False  # refused: a policy, a constraint, a trigger


def findings_of(reaches: list[Reach]) -> list[LintFinding]:
    by_table: dict[str, list[Reach]] = {}
    for r in reaches:
        by_table.setdefault(r.table, []).append(r)
    out = []
    for table, found in sorted(by_table.items()):
        ops = sorted({r.op for r in found})
        cases = sorted({f"{r.op} as {r.actor}" for r in found})
        out.append(LintFinding(
            RULE, Severity.WARN, table,
            f"a bare {' and '.join(o.upper() for o in ops)} on {table} changes rows the "
            f"actor cannot read ({len(found)} row(s): {', '.join(cases[:6])}"
            f"{', ...' if len(cases) > 6 else ''}): the {'/'.join(ops)} policy is broader than "
            "the SELECT policy",
        ))
    return out


def write_policy_lint(
    conn: psycopg.Connection, surface: SurfaceWorld, exposed_schemas: list[str]
) -> list[LintFinding]:
    return findings_of(find_reaches(conn, surface, exposed_schemas))
