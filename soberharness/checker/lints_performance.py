"""Performance lints of the schema (seed 4.3.1: the schema follows Supabase's best practices).

The classes are splinter's performance lints; the queries and judgements are this project's.

- `auth_rls_initplan`: a policy calls, outside any sub-select, a function that gives the same
  answer for every row of a statement: a zero-argument STABLE or IMMUTABLE function of the
  database (`auth.uid()`, `auth.jwt()`, a helper such as `private.is_moderator()`) or
  `current_setting(...)`. PostgreSQL then calls it once per row; written `(select auth.uid())`
  it becomes an InitPlan, run once per statement. splinter looks for the `auth.*` functions and
  current_setting by text only; this rule also catches the project's own row-independent
  helpers (found through pg_depend), and skips VOLATILE ones, whose meaning wrapping would
  change. Calls inside a helper that takes row columns are not its business.
- `multiple_permissive_policies`: more than one permissive policy applies to an API role (or
  PUBLIC) for one command on a table: each is evaluated for every row and their results ORed.
  One finding per table, naming each role, command and its policies.
- `unindexed_foreign_keys`: a foreign key whose columns are not the leading columns (in any
  order) of a valid index of its table: deleting or updating a referenced row then scans the
  referencing table. splinter wants the same column order; any order serves the equality
  lookups the key's checks make. A partial index counts when its predicate only asks the
  key's columns to be NOT NULL (the lookup's equality implies it); another predicate does not.
- `no_primary_key`: a table (not a partition) without a primary key.
- `duplicate_index`: two or more valid indexes of a table with the same method, columns,
  operator classes, collations, options, expressions and predicate; the finding names the one
  to keep (a primary key or unique one where there is one, else the oldest).

`unused_index` (splinter 0005, `pg_stat_user_indexes.idx_scan = 0`) is not a rule here: the
harness lints freshly migrated databases, where every index is unused, so it would report each
index of the schema and prove nothing; the performance suite's plans show which index a query
uses. The table rules skip the schemas of Supabase's own services (`SERVICE_SCHEMAS`: the
project does not write their tables) and objects that belong to an extension.
"""

from __future__ import annotations

import dataclasses
import re

import psycopg

from soberharness.checker.lint_base import LintRule, LintScope, rows
from soberharness.checker.results import LintFinding, Severity

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
# Schemas whose tables Supabase's services create and migrate, not the project.
SERVICE_SCHEMAS = (
    "auth", "storage", "realtime", "_realtime", "extensions", "graphql", "graphql_public",
    "vault", "pgsodium", "pgsodium_masks", "net", "cron", "supabase_functions",
    "supabase_migrations", "pgbouncer", "pgmq", "_analytics", "_supavisor",
)
_NOT_EXTENSION_MEMBER = """
    not exists (select 1 from pg_catalog.pg_depend d
                where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
                  and d.deptype = 'e')"""

_POLICIES = """
select n.nspname || '.' || c.relname, p.polname::text,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid),
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
       array(select f.proname::text || '|' || fn.nspname::text
             from pg_catalog.pg_depend d
             join pg_catalog.pg_proc f on f.oid = d.refobjid
             join pg_catalog.pg_namespace fn on fn.oid = f.pronamespace
             where d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
               and d.refclassid = 'pg_catalog.pg_proc'::regclass
               and f.pronargs = 0 and f.provolatile in ('s', 'i'))
from pg_catalog.pg_policy p
join pg_catalog.pg_class c on c.oid = p.polrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relrowsecurity and n.nspname <> all(%(system)s)
order by 1, 2
"""


_LITERAL = re.compile(r"'(?:[^']|'')*'")


@dataclasses.dataclass(frozen=True)
class Call:
    text: str  # as the deparsed expression writes it
    wrapped: bool  # inside a sub-select


def _select_depths(expr: str) -> list[bool]:
    """For each character of `expr`: whether it lies inside a parenthesised sub-select.

    Parentheses inside string literals and quoted identifiers are not counted."""
    inside: list[bool] = []
    stack: list[bool] = []  # per open parenthesis: does it open a SELECT?
    quote = ""
    for i, ch in enumerate(expr):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            opens = re.match(r"\(\s*select\b", expr[i:], re.IGNORECASE) is not None
            stack.append(opens or (bool(stack) and stack[-1]))
        elif ch == ")" and stack:
            stack.pop()
        inside.append(bool(stack) and stack[-1])
    return inside


def _call_pattern(name: str, schema: str) -> str:
    ident = re.escape(name)
    return rf'(?<![\w."])(?:"?{re.escape(schema)}"?\s*\.\s*)?"?{ident}"?\s*\(\s*\)'


def row_independent_calls(expr: str | None, functions: list[tuple[str, str]]) -> list[Call]:
    """Calls in a deparsed policy expression that answer the same for every row: each of
    `functions` (name, schema) called with no argument, and current_setting(...)."""
    if not expr:
        return []
    masked = _LITERAL.sub(lambda m: "'" + " " * (len(m.group(0)) - 2) + "'", expr)
    inside = _select_depths(masked)
    patterns = [_call_pattern(name, schema) for name, schema in functions]
    patterns.append(r"(?<![\w.\"])(?:pg_catalog\.)?current_setting\s*\(\s*'[^']*'[^()]*\)")
    calls: list[Call] = []
    for pattern in patterns:
        for m in re.finditer(pattern, masked, re.IGNORECASE):
            calls.append(Call(expr[m.start():m.end()], inside[m.start()]))
    return calls


def auth_rls_initplan(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    findings: list[LintFinding] = []
    for table, policy, qual, check, functions in rows(
            conn, _POLICIES, {"system": list(SYSTEM_SCHEMAS)}):
        pairs = [tuple(f.split("|", 1)) for f in functions]
        per_row = sorted({
            c.text for expr in (qual, check)
            for c in row_independent_calls(expr, pairs)  # type: ignore[arg-type]
            if not c.wrapped
        })
        if per_row:
            findings.append(LintFinding(
                "auth_rls_initplan", Severity.WARN, f"{table} policy {policy}",
                f"policy {policy} on {table} calls {', '.join(per_row)} once per row; write "
                "(select ...) around each so that it runs once per statement",
            ))
    return findings


def multiple_permissive_policies(
    conn: psycopg.Connection, scope: LintScope
) -> list[LintFinding]:
    found = rows(conn, """
        select table_name, string_agg(role || ' ' || command || ': ' || policies, '; '
                                      order by role, command)
        from (
            select n.nspname || '.' || c.relname as table_name, r as role, cmd as command,
                   string_agg(p.polname::text, ', ' order by p.polname) as policies
            from pg_catalog.pg_policy p
            join pg_catalog.pg_class c on c.oid = p.polrelid
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            cross join unnest(%(roles)s::text[]) as r
            cross join lateral unnest(case p.polcmd
                when 'r' then array['SELECT'] when 'a' then array['INSERT']
                when 'w' then array['UPDATE'] when 'd' then array['DELETE']
                else array['SELECT', 'INSERT', 'UPDATE', 'DELETE'] end) as cmd
            where p.polpermissive and c.relrowsecurity and n.nspname <> all(%(system)s)
              and (0::oid = any(p.polroles)
                   or exists (select 1 from pg_catalog.pg_roles ro
                              where ro.rolname = r and ro.oid = any(p.polroles)))
            group by 1, 2, 3
            having count(*) > 1
        ) g
        group by table_name
        order by 1
        """, {"roles": scope.api_roles, "system": list(SYSTEM_SCHEMAS)})
    return [
        LintFinding(
            "multiple_permissive_policies", Severity.WARN, table,
            f"{table} has several permissive policies for one role and command, each evaluated "
            f"for every row ({groups}); merge them into one per role and command",
        )
        for table, groups in found
    ]


def _project_params() -> dict[str, object]:
    return {"skip": list(SYSTEM_SCHEMAS + SERVICE_SCHEMAS)}


def covers(predicate: str | None, columns: list[str]) -> bool:
    """Whether an index with this predicate serves lookups by equality on `columns`: no
    predicate, or only `column IS NOT NULL` terms of them (an equality implies those)."""
    if predicate is None:
        return True
    rest = predicate
    for column in columns:
        rest = re.sub(rf'\(?\s*"?{re.escape(column)}"?\s+IS\s+NOT\s+NULL\s*\)?', "", rest,
                      flags=re.IGNORECASE)
    return re.fullmatch(r"[\s()]*((AND)[\s()]*)*", rest, flags=re.IGNORECASE) is not None


def unindexed_foreign_keys(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # Candidate indexes: valid ones whose leading columns are the key's columns, in any order,
    # with their predicates; `covers` decides on the predicates.
    found = rows(conn, f"""
        select n.nspname || '.' || c.relname, k.conname::text,
               array(select a.attname::text from unnest(k.conkey) with ordinality x(attnum, i)
                     join pg_catalog.pg_attribute a
                       on a.attrelid = c.oid and a.attnum = x.attnum
                     order by x.i),
               array(select coalesce(pg_catalog.pg_get_expr(i.indpred, i.indrelid), '')
                     from pg_catalog.pg_index i
                     where i.indrelid = c.oid and i.indisvalid
                       and (select array_agg(x order by x)
                            from unnest((string_to_array(i.indkey::text, ' ')::int2[])
                                        [1:cardinality(k.conkey)]) x)
                           = (select array_agg(x order by x) from unnest(k.conkey) x))
        from pg_catalog.pg_constraint k
        join pg_catalog.pg_class c on c.oid = k.conrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where k.contype = 'f' and n.nspname <> all(%(skip)s) and {_NOT_EXTENSION_MEMBER}
        order by 1, 2
        """, _project_params())
    return [
        LintFinding(
            "unindexed_foreign_keys", Severity.WARN, f"{table} constraint {name}",
            f"foreign key {name} of {table} ({', '.join(columns)}) has no index leading with "
            "its columns: each delete or key update of a referenced row scans the table",
        )
        for table, name, columns, predicates in found
        if not any(covers(p or None, columns) for p in predicates)
    ]


def no_primary_key(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    found = rows(conn, f"""
        select n.nspname || '.' || c.relname
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and not c.relispartition
          and n.nspname <> all(%(skip)s) and n.nspname not like 'pg\\_temp%%'
          and {_NOT_EXTENSION_MEMBER}
          and not exists (select 1 from pg_catalog.pg_index i
                          where i.indrelid = c.oid and i.indisprimary)
        order by 1
        """, _project_params())
    return [
        LintFinding(
            "no_primary_key", Severity.WARN, name,
            f"table {name} has no primary key (rows cannot be addressed one by one; Realtime "
            "and logical replication need one)",
        )
        for (name,) in found
    ]


def duplicate_index(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    found = rows(conn, f"""
        select n.nspname || '.' || c.relname,
               array_agg(ic.relname::text order by i.indisprimary desc, i.indisunique desc,
                                                   ic.oid)
        from pg_catalog.pg_index i
        join pg_catalog.pg_class ic on ic.oid = i.indexrelid
        join pg_catalog.pg_class c on c.oid = i.indrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where i.indisvalid and c.relkind in ('r', 'p', 'm')
          and n.nspname <> all(%(skip)s) and {_NOT_EXTENSION_MEMBER}
        group by c.oid, n.nspname, c.relname, ic.relam, i.indkey::text, i.indclass::text,
                 i.indcollation::text, i.indoption::text,
                 coalesce(pg_catalog.pg_get_expr(i.indexprs, i.indrelid), ''),
                 coalesce(pg_catalog.pg_get_expr(i.indpred, i.indrelid), '')
        having count(*) > 1
        order by 1, 2
        """, _project_params())
    return [
        LintFinding(
            "duplicate_index", Severity.WARN, f"{table} index {indexes[1]}",
            f"indexes {', '.join(indexes)} of {table} are identical: keep {indexes[0]}, "
            f"drop {', '.join(indexes[1:])}",
        )
        for table, indexes in found
    ]


RULES: tuple[LintRule, ...] = (
    LintRule("auth_rls_initplan", Severity.WARN,
             "policy calling auth.uid() or another row-independent function once per row",
             auth_rls_initplan),
    LintRule("multiple_permissive_policies", Severity.WARN,
             "several permissive policies for one API role and command on a table",
             multiple_permissive_policies),
    LintRule("unindexed_foreign_keys", Severity.WARN,
             "foreign key without an index leading with its columns", unindexed_foreign_keys),
    LintRule("no_primary_key", Severity.WARN, "table without a primary key", no_primary_key),
    LintRule("duplicate_index", Severity.WARN, "identical indexes on one table",
             duplicate_index),
)
