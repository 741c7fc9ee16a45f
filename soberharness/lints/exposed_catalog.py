"""Which functions and views the API roles can reach, read from the catalog.

Every function `anon` or `authenticated` may EXECUTE (not trigger functions, not extension
members) with its input parameters, and every view and materialized view they may SELECT with
its columns and the tables it reads (through other views too), in the given exposed schemas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import psycopg

from soberharness.lints.base import rows
from soberharness.workload.exposed_calls import Param

API_ROLES = ("anon", "authenticated")

_FUNCTIONS = """
select p.oid, n.nspname, p.proname,
       n.nspname || '.' || p.proname
           || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       coalesce(p.proargnames, '{}'::text[]),
       coalesce(p.proargmodes::text[], '{}'::text[]),
       array(select pg_catalog.format_type(t, null)
             from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality
                  as a(t, i) order by i),
       p.pronargdefaults,
       case when rt.typrelid <> 0 then rn.nspname || '.' || rc.relname end,
       pg_catalog.format_type(p.prorettype, null) || case when p.proretset then ' (set)' else ''
           end,
       p.provolatile = 'v',
       array(select r from unnest(%(roles)s::text[]) r
             where pg_catalog.has_function_privilege(r, p.oid, 'EXECUTE'))
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_type rt on rt.oid = p.prorettype
left join pg_catalog.pg_class rc on rc.oid = rt.typrelid
left join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
where n.nspname = any(%(schemas)s)
  and p.prokind = 'f'
  and p.prorettype not in ('pg_catalog.trigger'::regtype, 'pg_catalog.event_trigger'::regtype)
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
                    and d.deptype = 'e')
order by 4
"""
_VIEWS = """
with recursive reads(view, rel) as (
    select r.ev_class, d.refobjid
    from pg_catalog.pg_depend d
    join pg_catalog.pg_rewrite r on r.oid = d.objid
    where d.classid = 'pg_catalog.pg_rewrite'::regclass
      and d.refclassid = 'pg_catalog.pg_class'::regclass and d.refobjid <> r.ev_class
    union
    select reads.view, d.refobjid
    from reads
    join pg_catalog.pg_rewrite r on r.ev_class = reads.rel
    join pg_catalog.pg_depend d
      on d.objid = r.oid and d.classid = 'pg_catalog.pg_rewrite'::regclass
     and d.refclassid = 'pg_catalog.pg_class'::regclass and d.refobjid <> r.ev_class
)
select c.oid, n.nspname, c.relname, n.nspname || '.' || c.relname,
       case c.relkind when 'm' then 'materialized view' else 'view' end,
       array(select a.attname::text from pg_catalog.pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
             order by a.attnum),
       array(select distinct bn.nspname || '.' || b.relname
             from reads x
             join pg_catalog.pg_class b on b.oid = x.rel and b.relkind in ('r', 'p')
             join pg_catalog.pg_namespace bn on bn.oid = b.relnamespace
             where x.view = c.oid),
       array(select r from unnest(%(roles)s::text[]) r
             where pg_catalog.has_any_column_privilege(r, c.oid, 'SELECT'))
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('v', 'm') and n.nspname = any(%(schemas)s)
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
                    and d.deptype = 'e')
order by 4
"""
_ENUMS = """
select pg_catalog.format_type(t.oid, null), array_agg(e.enumlabel::text order by e.enumsortorder)
from pg_catalog.pg_type t join pg_catalog.pg_enum e on e.enumtypid = t.oid
group by t.oid
"""


@dataclasses.dataclass(frozen=True)
class ExposedObject:
    schema: str
    name: str
    label: str  # schema.function(identity args) or schema.view
    kind: str  # "function", "view", "materialized view"
    roles: tuple[str, ...]  # API roles that may call / read it
    params: tuple[Param, ...] = ()
    returns: str = ""  # what a function returns, for messages
    returns_table: str | None = None  # the relation whose rows a function returns
    volatile: bool = False
    columns: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # tables a view reads, through other views too


def discover(
    conn: psycopg.Connection, exposed_schemas: Sequence[str], roles: Sequence[str] = API_ROLES
) -> list[ExposedObject]:
    """Every function the API roles may execute and every view they may read, exposed."""
    params = {"schemas": list(exposed_schemas), "roles": list(roles)}
    enums = dict(rows(conn, _ENUMS, {}))
    found: list[ExposedObject] = []
    for (_oid, schema, name, label, argnames, modes, types, ndefaults, returns_table, returns,
         volatile, callers) in rows(conn, _FUNCTIONS, params):
        if callers:
            found.append(ExposedObject(
                schema, name, label, "function", tuple(callers),
                _inputs(argnames, modes, types, ndefaults, enums), returns, returns_table,
                volatile,
            ))
    for _oid, schema, name, label, kind, columns, reads, readers in rows(conn, _VIEWS, params):
        if readers:
            found.append(ExposedObject(schema, name, label, kind, tuple(readers),
                                       columns=tuple(columns), reads=tuple(reads)))
    return found


def _inputs(
    names: list[str], modes: list[str], types: list[str], ndefaults: int,
    enums: dict[str, list[str]],
) -> tuple[Param, ...]:
    inputs = [
        (names[i] if i < len(names) else "", typ)
        for i, typ in enumerate(types)
        if not modes or modes[i] in ("i", "b", "v")
    ]
    positional = any(not n for n, _ in inputs)  # then every argument is passed
    first_default = len(inputs) - ndefaults
    return tuple(
        Param(n, typ, i >= first_default and not positional, tuple(enums.get(typ, ())))
        for i, (n, typ) in enumerate(inputs)
    )
