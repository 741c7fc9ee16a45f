"""Lint: an exposed invoker function or view that reaches owner's rights further down.

The classic bypass: `public.f()` is a plain (invoker) function, so lints that look only at
exposed objects pass it, but it calls `private.g()`, a SECURITY DEFINER function the API role
may execute, or reads `private.v`, a view without `security_invoker` (or a materialized view,
which holds what its owner computed). Whatever g or v returns was read with the owner's rights,
past RLS.

The graph: a view's edges are its query's dependencies (`pg_depend` of its rewrite rule); a
function's edges are `pg_depend` (SQL-standard bodies) plus every `schema.name` its body text
names that is a function, view or materialized view. Text matching is conservative (a name in a
comment counts too) and sees only schema-qualified names; functions with `search_path = ''`,
as every function here has, must qualify everything anyway.

Entry points: invoker functions in an exposed schema that an API role may execute (not trigger
functions) and invoker views there it may read. Targets: SECURITY DEFINER functions, definer
views and materialized views outside the exposed schemas that the same role may execute or
read (inside them they are errors of their own rules). The walk goes through invoker objects of
any schema and stops at the first target. One finding per entry point, naming the chain.

The same graph, with tables as leaves, tells which relations an API request reaches at all
(`reached_objects`): every table, view or foreign table some exposed entry point leads to,
whatever its schema, and whose rights it is read with (the API role's through invoker objects
only, or the owner of the last SECURITY DEFINER function or definer view on the way). The
catalog rules lint the invoker-reached ones as if they were exposed (LintScope.reached_tables),
`rls_not_forced` the owner-reached ones. Trigger functions are no entry points: PostgreSQL
refuses to call them outside their trigger, and a trigger fires on a write to its table, which
is linted as that table.
"""

from __future__ import annotations

import dataclasses
import re

import psycopg

from soberharness.lints.base import LintScope, rows
from soberharness.records.results import LintFinding, Severity

RULE = "definer_behind_invoker"

_FUNCTIONS = """
select p.oid, n.nspname, p.proname,
       n.nspname || '.' || p.proname
           || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       p.prosecdef, coalesce(p.prosrc, ''),
       p.prorettype in ('pg_catalog.trigger'::regtype, 'pg_catalog.event_trigger'::regtype),
       array(select r from unnest(%(roles)s::text[]) r
             where pg_catalog.has_function_privilege(r, p.oid, 'EXECUTE')),
       pg_catalog.pg_get_userbyid(p.proowner)::text
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%%'
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
                    and d.deptype = 'e')
"""
_RELATIONS = """
select c.oid, n.nspname, c.relname, n.nspname || '.' || c.relname, c.relkind,
       coalesce((select bool_or(substr(o, length('security_invoker=') + 1)::boolean)
                 from unnest(c.reloptions) o
                 where lower(o) like 'security\\_invoker=%%'), false),
       array(select r from unnest(%(roles)s::text[]) r
             where pg_catalog.has_any_column_privilege(r, c.oid, 'SELECT')),
       pg_catalog.pg_get_userbyid(c.relowner)::text
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('v', 'm', 'r', 'p', 'f')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%%'
"""
# What a view's query or a SQL-standard function body depends on.
_DEPENDS = """
select coalesce(r.ev_class, d.objid) as source, d.refclassid = 'pg_catalog.pg_proc'::regclass,
       d.refobjid
from pg_catalog.pg_depend d
left join pg_catalog.pg_rewrite r
       on d.classid = 'pg_catalog.pg_rewrite'::regclass and r.oid = d.objid
where (d.classid = 'pg_catalog.pg_rewrite'::regclass
       or d.classid = 'pg_catalog.pg_proc'::regclass)
  and d.refclassid in ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_class'::regclass)
  and d.deptype = 'n'
"""
_RELKINDS = {"v": "view", "m": "materialized view", "r": "table", "p": "table",
             "f": "table"}
_QUALIFIED = re.compile(r'"?([A-Za-z_][\w$]*)"?\s*\.\s*"?([A-Za-z_][\w$]*)"?')


@dataclasses.dataclass(frozen=True)
class Node:
    oid: int
    schema: str
    name: str
    label: str  # schema.function(args) or schema.relation
    kind: str  # "function", "view", "materialized view", "table"
    definer: bool  # SECURITY DEFINER, a view without security_invoker, a materialized view
    callers: frozenset[str]  # API roles that may execute / read it
    body: str = ""
    trigger: bool = False
    owner: str = ""

    def describe(self) -> str:
        if self.kind == "function":
            return self.label + (" (SECURITY DEFINER)" if self.definer else "")
        if self.kind == "view":
            return f"view {self.label}" + ("" if not self.definer else " (owner's rights)")
        return f"{self.kind} {self.label}"


@dataclasses.dataclass(frozen=True)
class Chain:
    entry: Node
    path: tuple[Node, ...]  # entry ... target
    roles: frozenset[str]

    def describe(self) -> str:
        return " -> ".join(n.describe() for n in self.path)


def _graph(conn: psycopg.Connection, roles: list[str]) -> tuple[dict[int, Node], dict[int, set]]:
    nodes: dict[int, Node] = {}
    by_name: dict[tuple[str, str], list[int]] = {}
    for oid, schema, name, label, definer, body, trigger, callers, owner in rows(
        conn, _FUNCTIONS, {"roles": roles}
    ):
        nodes[oid] = Node(oid, schema, name, label, "function", definer, frozenset(callers),
                          body, trigger, owner)
    for oid, schema, name, label, relkind, invoker, readers, owner in rows(
        conn, _RELATIONS, {"roles": roles}
    ):
        kind = _RELKINDS[relkind]
        definer = relkind == "m" or (relkind == "v" and not invoker)
        nodes[oid] = Node(oid, schema, name, label, kind, definer, frozenset(readers),
                          owner=owner)
    for node in nodes.values():
        by_name.setdefault((node.schema.lower(), node.name.lower()), []).append(node.oid)
    edges: dict[int, set[int]] = {oid: set() for oid in nodes}
    for source, _is_proc, target in rows(conn, _DEPENDS, {}):
        if source in nodes and target in nodes and source != target:
            edges[source].add(target)
    for node in nodes.values():
        if node.kind != "function" or not node.body:
            continue
        for schema, name in _QUALIFIED.findall(node.body):
            for target in by_name.get((schema.lower(), name.lower()), ()):
                if target != node.oid:
                    edges[node.oid].add(target)
    return nodes, edges


def find_chains(conn: psycopg.Connection, scope: LintScope) -> list[Chain]:
    """Every exposed invoker entry point that reaches a definer target, shortest chain first."""
    nodes, edges = _graph(conn, scope.api_roles)
    exposed = set(scope.exposed_schemas)
    chains: list[Chain] = []
    for entry in sorted(nodes.values(), key=lambda n: n.label):
        if entry.schema not in exposed or entry.definer or entry.trigger or not entry.callers:
            continue
        if entry.kind in ("materialized view", "table"):
            continue
        found = _walk(entry, nodes, edges, exposed)
        if found:
            path, roles = found
            chains.append(Chain(entry, path, roles))
    return chains


def _walk(
    entry: Node, nodes: dict[int, Node], edges: dict[int, set[int]], exposed: set[str]
) -> tuple[tuple[Node, ...], frozenset[str]] | None:
    """Breadth first from entry through invoker nodes to the first definer target."""
    seen = {entry.oid}
    queue: list[tuple[Node, ...]] = [(entry,)]
    while queue:
        path = queue.pop(0)
        for target_oid in sorted(edges.get(path[-1].oid, ())):
            if target_oid in seen:
                continue
            seen.add(target_oid)
            target = nodes[target_oid]
            if target.definer:
                roles = entry.callers & target.callers
                if target.schema not in exposed and roles:
                    return (*path, target), roles
                continue  # not reachable by the caller, or an error of its own rule
            queue.append((*path, target))
    return None


@dataclasses.dataclass(frozen=True)
class Reached:
    """An object reached from an exposed entry point, and whose rights reach it."""

    oid: int
    label: str
    schema: str
    kind: str  # as Node.kind
    owner: str
    entry: str  # the entry point's label
    acting_as: str  # "" for the API role itself, else the role whose rights the path took


def _entries(nodes: dict[int, Node], exposed: set[str]) -> list[Node]:
    return sorted(
        (n for n in nodes.values()
         if n.schema in exposed and n.callers and not n.trigger and n.kind != "table"),
        key=lambda n: n.label)


def reached_objects(conn: psycopg.Connection, scope: LintScope) -> list[Reached]:
    """Every table, function and view an exposed function or view leads to, with the rights
    the path holds there: breadth first from each entry point, taking a definer's owner's
    rights past it. One record per (object, acting_as), from the first entry point by name."""
    nodes, edges = _graph(conn, scope.api_roles)
    found: dict[tuple[int, str], Reached] = {}
    for entry in _entries(nodes, set(scope.exposed_schemas)):
        start = entry.owner if entry.definer else ""
        seen = {(entry.oid, start)}
        queue = [(entry.oid, start)]
        while queue:
            oid, acting = queue.pop(0)
            for target_oid in sorted(edges.get(oid, ())):
                target = nodes[target_oid]
                found.setdefault((target_oid, acting), Reached(
                    target_oid, target.label, target.schema, target.kind, target.owner,
                    entry.label, acting))
                now = target.owner if target.definer else acting
                if target.kind != "table" and (target_oid, now) not in seen:
                    seen.add((target_oid, now))
                    queue.append((target_oid, now))
    return sorted(found.values(), key=lambda r: (r.label, r.acting_as))


def invoker_reached_tables(conn: psycopg.Connection, scope: LintScope) -> list[int]:
    """Tables outside the exposed schemas that an exposed path reads with the API role's
    own rights: the catalog rules lint them as if they were exposed."""
    exposed = set(scope.exposed_schemas)
    return sorted({r.oid for r in reached_objects(conn, scope)
                   if r.kind == "table" and not r.acting_as and r.schema not in exposed})


def definer_behind_invoker(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    return [
        LintFinding(
            RULE,
            Severity.WARN,
            chain.entry.label,
            f"{chain.describe()}: what the last one returns to "
            f"{' and '.join(sorted(chain.roles))} was read with its owner's rights",
        )
        for chain in find_chains(conn, scope)
    ]
