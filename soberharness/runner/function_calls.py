"""The exposed functions a viewer may call, as part of its non-interference snapshot (issue 20
item 1): listed as the viewer, each called on the fixed argument set of
soberharness.workload.function_args, its results one pseudo-relation of (args, result) rows
that the snapshot digests in the database like a table's rows.

Called: plain functions (not aggregates or procedures) of the exposed schemas the viewer may
EXECUTE, declared STABLE or IMMUTABLE (PostgreSQL refuses direct writes in their SQL and
PL/pgSQL bodies; a VOLATILE function may write or act outside the database, so it is not
called; a STABLE function that itself calls a volatile one, e.g. an HTTP or dblink extension's,
is not detected: every call runs inside a rolled-back transaction, but what it does outside
the database is not undone), returning a value (not a
trigger, void or internal), with no variadic argument, and not part of an extension. Every call
runs inside the snapshot's rolled-back transaction. A call that fails on the world as it is
(for this viewer) is left out of the set; one that fails only after a change shows as the
function's error digest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import psycopg
from psycopg import sql

from soberharness.workload.function_args import Samples, argument_tuples

# The functions the viewer (its role in force) may call, with their input argument types,
# names and modes (to pair names with inputs).
CALLABLE = """
select n.nspname, p.proname,
       array(select pg_catalog.format_type(t, null)
             from unnest(p.proargtypes::oid[]) with ordinality u(t, o) order by o),
       p.proargnames, p.proargmodes::text[], p.proretset
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname = any(%s) and p.prokind = 'f' and p.provolatile in ('i', 's')
  and p.provariadic = 0
  and p.prorettype not in ('pg_catalog.trigger'::regtype, 'pg_catalog.event_trigger'::regtype,
                           'pg_catalog.void'::regtype, 'pg_catalog.internal'::regtype)
  and pg_catalog.has_schema_privilege(n.oid, 'USAGE')
  and pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
                    and d.deptype = 'e')
order by 1, 2, 3
"""


@dataclasses.dataclass(frozen=True)
class Function:
    schema: str
    name: str
    types: tuple[str, ...]
    arg_names: tuple[str, ...]
    returns_set: bool = False

    @property
    def label(self) -> str:
        """How a difference names it: schema.name(argument types)."""
        return f"{self.schema}.{self.name}({', '.join(self.types)})"


def _input_names(count: int, names: Sequence[str] | None, modes: Sequence[str] | None) -> tuple[
        str, ...]:
    if names and modes:
        names = [n for n, m in zip(names, modes, strict=False) if m in ("i", "b", "v")]
    names = list(names or [])[:count]
    return tuple((names[i] if i < len(names) and names[i] else f"${i + 1}")
                 for i in range(count))


def callable_functions(conn: psycopg.Connection, schemas: Sequence[str]) -> list[Function]:
    """The functions the current role (the viewer's, in force) may call on a sample set."""
    rows = conn.execute(CALLABLE, [list(schemas)]).fetchall()
    return [Function(schema, name, tuple(types), _input_names(len(types), names, modes), retset)
            for schema, name, types, names, modes, retset in rows]


def _args_text(fn: Function, values: Sequence[str]) -> str:
    return ", ".join(f"{n}={v!r}" for n, v in zip(fn.arg_names, values, strict=True))


def call_select(fn: Function, tuples: Sequence[tuple[str, ...]]) -> sql.Composed:
    """A select of (args, result) rows: the function called on each tuple, its result as jsonb
    (a set as one array of its rows)."""
    target = sql.SQL("{}.{}").format(sql.Identifier(fn.schema), sql.Identifier(fn.name))
    cols = [sql.Identifier(f"c{i}") for i in range(len(fn.types))]
    call = sql.SQL("{}({})").format(target, sql.SQL(", ").join(
        sql.SQL("a.{}::{}").format(c, sql.SQL(t)) for c, t in zip(cols, fn.types, strict=True)))
    result = (sql.SQL("(select jsonb_agg(r) from {} r)") if fn.returns_set
              else sql.SQL("to_jsonb({})")).format(call)
    if not fn.types:
        return sql.SQL("select '' as args, {} as result").format(result)
    values = sql.SQL(", ").join(
        sql.SQL("({})").format(sql.SQL(", ").join(
            [sql.Literal(_args_text(fn, tup)), *map(sql.Literal, tup)])) for tup in tuples)
    return sql.SQL("select a.args, {} as result from (values {}) a(args, {})").format(
        result, values, sql.SQL(", ").join(cols))


def _works(conn: psycopg.Connection, query: sql.Composed) -> bool:
    try:
        with conn.transaction():
            conn.execute(sql.SQL("select count(*) from ({}) x").format(query))
    except psycopg.Error:
        return False
    return True


def calls(conn: psycopg.Connection, schemas: Sequence[str], samples: Samples) -> dict[
        str, sql.Composed]:
    """Each callable function's select over the tuples that work for the current role now
    (inside a transaction with the viewer's settings in force): label -> select."""
    out: dict[str, sql.Composed] = {}
    for fn in callable_functions(conn, schemas):
        tuples = argument_tuples(fn.types, samples, fn.arg_names)
        if not tuples and fn.types:
            continue
        query = call_select(fn, tuples)
        if not _works(conn, query):
            tuples = [t for t in tuples if _works(conn, call_select(fn, [t]))]
            if not tuples:
                continue
            query = call_select(fn, tuples)
        out[fn.label] = query
    return out
