"""The matrix covers the schema: every table an API role can reach in an exposed schema has
matrix cases for each operation it may attempt, every column it may update is changed by
some update case, every column it may insert is set by some insert case, and every column a
policy, a trigger or a function a policy calls reads is set by some case (of any actor,
`service` included). A table or column added to the stack without cases is reported, so it can
never go unchecked.

A table no API role holds any privilege on is out of reach of every request and needs no
cases (`rls_disabled_in_public` and the other lints look at it regardless). Pass the target's
PostgREST `db_schemas` when it exposes more than Supabase's default schemas.

A few columns carry no rule of their own (free text): they are governed by their row's update
rule, which other columns' cases check. They are listed in `UNGUARDED_COLUMNS`, each with its
reason; anything not listed needs a case. The Storage API's own columns and tables are judged by
its registry for the schema version seen (soberharness.lints.storage_api_objects, passed as
`known`): bookkeeping columns it declares need no case, and its internal tables (row level
security, no policy: no row reachable) need none either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import psycopg

from soberharness.db import sql as rows
from soberharness.lints.catalog import API_ROLES, DEFAULT_EXPOSED_SCHEMAS
from soberharness.lints.storage_api_objects import KnownStorageApi
from soberharness.records.results import Op
from soberharness.workload.matrix_cases import CASES, Case, Ctx
from soberharness.world.entities import Privacy
from soberharness.world.matrix_world import ACTORS, MatrixWorld

_ROW_RULE = "free text of the row, under the row's update rule (checked by the {} cases)"
UNGUARDED_COLUMNS: dict[str, str] = {
    "public.profiles.display_name": _ROW_RULE.format("handle"),
    "public.profiles.bio": _ROW_RULE.format("handle"),
    "public.videos.description": _ROW_RULE.format("title"),
    "public.videos.storage_path": (
        "a pointer the app follows; reading the object it names is the object's own rule "
        "(S:Videos), checked on storage.objects"
    ),
}


# Columns no case sets yet, each with why. Empty: the database-filled times and
# profiles.time_zone are set by the time cases (D33, workload.matrix_cases._time_cases).
UNSET_COLUMNS: dict[str, str] = {}


@dataclasses.dataclass(frozen=True)
class Surface:
    """What cases touch, or what the API roles can reach: (relation, op) and (relation, column)
    pairs, relations named `schema.table`."""

    operations: frozenset[tuple[str, Op]]
    columns: frozenset[tuple[str, str]]  # updated (cases) or updatable (catalog)
    # inserted with a value (cases) or insertable (catalog)
    inserted: frozenset[tuple[str, str]] = frozenset()
    # (catalog only) columns a policy, trigger or function reads, with what reads them
    trusted: tuple[tuple[str, str, str], ...] = ()


def matrix_surface(mw: MatrixWorld, cases: Iterable[Case] = CASES) -> Surface:
    """The relations, operations and updated columns the matrix's cases exercise (over every
    actor of one privacy level: what a case changes may depend on who acts)."""
    operations: set[tuple[str, Op]] = set()
    columns: set[tuple[str, str]] = set()
    inserted: set[tuple[str, str]] = set()
    for case in cases:
        for actor in ACTORS:
            action = case.build(Ctx(mw, Privacy.PUBLIC, actor, mw.viewer(actor, Privacy.PUBLIC)))
            target = rows.row_of(action.target)
            relation = f"{target.schema}.{target.table}"
            operations.add((relation, action.op))
            if action.op is Op.INSERT:
                inserted |= {(relation, c) for c in target.values}
            if action.after is not None:
                after = rows.row_of(action.after)
                columns |= {
                    (relation, c) for c, v in after.values.items() if target.values.get(c) != v
                }
    return Surface(frozenset(operations), frozenset(columns), frozenset(inserted))


_REACHABLE = """
    select n.nspname || '.' || c.relname as relation,
           bool_or(has_any_column_privilege(r, c.oid, 'SELECT')) as can_select,
           bool_or(has_any_column_privilege(r, c.oid, 'INSERT')) as can_insert,
           bool_or(has_any_column_privilege(r, c.oid, 'UPDATE')) as can_update,
           bool_or(has_table_privilege(r, c.oid, 'DELETE')) as can_delete
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    cross join unnest(%(roles)s::text[]) as r
    where c.relkind in ('r', 'p')
      and n.nspname = any(%(schemas)s)
      and not exists (
          select 1 from pg_catalog.pg_depend d
          where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
            and d.deptype = 'e')
    group by 1
"""
_UPDATABLE = """
    select distinct n.nspname || '.' || c.relname, a.attname::text
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    cross join unnest(%(roles)s::text[]) as r
    where c.relkind in ('r', 'p')
      and n.nspname = any(%(schemas)s)
      and a.attgenerated = ''
      and has_column_privilege(r, c.oid, a.attnum, %(privilege)s)
"""
# Columns of reachable tables a policy's expressions or a trigger's WHEN read (pg_depend), a
# trigger function of the table names, or a function a policy calls names next to the table
# (function bodies are text: a whole-word match, erring towards looking).
_TRUSTED = r"""
with recursive tab as (
    select c.oid, n.nspname || '.' || c.relname as relation, c.relname::text as name
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    cross join unnest(%(roles)s::text[]) as r
    where c.relkind in ('r', 'p') and n.nspname = any(%(schemas)s)
      and has_any_column_privilege(r, c.oid, 'SELECT,INSERT,UPDATE')
    group by 1, 2, 3
),
col as (
    select tab.oid, tab.relation, tab.name as tname, a.attnum, a.attname::text as name
    from tab join pg_catalog.pg_attribute a
      on a.attrelid = tab.oid and a.attnum > 0 and not a.attisdropped
),
fn as (
    select f.oid, f.proname::text as short, coalesce(f.prosrc, '') as body
    from pg_catalog.pg_proc f
    join pg_catalog.pg_namespace n on n.oid = f.pronamespace
    where n.nspname not in ('pg_catalog', 'information_schema')
),
called(fn_oid, via) as (
    select d.refobjid, 'function called by policy ' || p.polname
    from pg_catalog.pg_depend d join pg_catalog.pg_policy p on p.oid = d.objid
    where d.classid = 'pg_catalog.pg_policy'::regclass
      and d.refclassid = 'pg_catalog.pg_proc'::regclass
    union
    select callee.oid, c.via
    from called c join fn caller on caller.oid = c.fn_oid
    join fn callee on caller.body ~ ('\m' || callee.short || '\s*\(')
)
select col.relation, col.name, 'read by policy ' || p.polname
from col join pg_catalog.pg_depend d
  on d.refobjid = col.oid and d.refobjsubid = col.attnum
     and d.refclassid = 'pg_catalog.pg_class'::regclass
     and d.classid = 'pg_catalog.pg_policy'::regclass
join pg_catalog.pg_policy p on p.oid = d.objid
union
select col.relation, col.name, 'read by trigger ' || t.tgname
from col join pg_catalog.pg_trigger t on t.tgrelid = col.oid and not t.tgisinternal
join fn on fn.oid = t.tgfoid
where fn.body ~ ('\m(new|old)\.' || col.name || '\M(?!\s*:=)')
union
select col.relation, col.name, 'read by ' || proname || ' (' || c.via || ')'
from called c join fn on fn.oid = c.fn_oid
join pg_catalog.pg_proc pr on pr.oid = fn.oid
join col on fn.body ~ ('\m' || col.tname || '\M') and fn.body ~ ('\m' || col.name || '\M')
"""


def reachable_surface(
    conn: psycopg.Connection,
    schemas: Sequence[str] = DEFAULT_EXPOSED_SCHEMAS,
    roles: Sequence[str] = API_ROLES,
) -> Surface:
    """What `roles` may attempt on tables in `schemas` (from the catalog's privileges)."""
    params = {"schemas": list(schemas), "roles": list(roles)}
    operations: set[tuple[str, Op]] = set()
    with conn.cursor() as cur:
        cur.execute(_REACHABLE.encode(), params)
        for relation, *held in cur.fetchall():
            ops = (Op.SELECT, Op.INSERT, Op.UPDATE, Op.DELETE)
            operations |= {(relation, op) for op, ok in zip(ops, held, strict=True) if ok}
        cur.execute(_UPDATABLE.encode(), {**params, "privilege": "UPDATE"})
        columns = {(relation, column) for relation, column in cur.fetchall()}
        cur.execute(_UPDATABLE.encode(), {**params, "privilege": "INSERT"})
        inserted = {(relation, column) for relation, column in cur.fetchall()}
        cur.execute(_TRUSTED.encode(), params)
        trusted = tuple(sorted(cur.fetchall()))
    return Surface(frozenset(operations), frozenset(columns), frozenset(inserted), trusted)


def uncovered(
    reachable: Surface, covered: Surface, known: KnownStorageApi | None = None
) -> list[str]:
    """One line per reachable operation or updatable column no case exercises (the Storage
    API's internal tables and declared columns excepted, when `known` is given)."""
    internal = known.internal if known else frozenset()
    unguarded = {**UNGUARDED_COLUMNS, **(known.declared_columns() if known else {})}
    problems = [
        f"{relation}: {op.value} is open to the API roles but has no matrix case"
        for relation, op in sorted(reachable.operations - covered.operations)
        if relation not in internal
    ]
    for relation, column in sorted(reachable.columns - covered.columns):
        if f"{relation}.{column}" not in unguarded:
            problems.append(
                f"{relation}.{column}: updatable by the API roles but no matrix case changes it"
            )
    set_by_cases = covered.inserted | covered.columns
    unguarded |= UNSET_COLUMNS
    for relation, column in sorted(reachable.inserted - set_by_cases):
        if f"{relation}.{column}" not in unguarded and relation not in internal:
            problems.append(
                f"{relation}.{column}: insertable by the API roles but no matrix case sets it")
    readers: dict[tuple[str, str], list[str]] = {}
    for relation, column, reader in reachable.trusted:
        readers.setdefault((relation, column), []).append(reader)
    for (relation, column), found in sorted(readers.items()):
        if ((relation, column) not in set_by_cases and relation not in internal
                and f"{relation}.{column}" not in unguarded):
            problems.append(f"{relation}.{column}: {'; '.join(found)}, but no matrix case "
                            "sets it")
    return problems
