"""Defence-in-depth lints of row level security policies, the classes the RLS linter pgrls checks.

The harness's other rules judge what the API roles can reach today; these look at a policy's
shape, so that a grant added later does not turn a careless policy into a leak. They are
warnings (declare an intended one in the stack's declaration file with its reason). Every
schema but PostgreSQL's own is looked at: a policy in a private schema is one exposure away.

- `policy_to_public`: a policy granted `TO PUBLIC` (the default when `TO` is left out): it
  applies to every role, including ones added later and the API roles.
- `insert_policy_without_check`: a permissive INSERT policy (or an ALL policy with neither
  USING nor WITH CHECK) for an API role or PUBLIC with no WITH CHECK: every inserted row
  passes, whoever it claims to belong to.
- `policy_exists_rls_disabled` (splinter 0007, whatever the schema or the grants): policies on a
  table whose row level security is off. They are dormant: the table serves every row to
  whoever holds a privilege, while its policies suggest otherwise.
- `policy_reads_only_session`: a USING or WITH CHECK condition that reads no column of its
  row, only the session (auth.uid(), auth.jwt(), current_setting(), helpers of those, other
  tables): it answers the same for every row, so whoever satisfies it once reads or writes
  all rows (`using (auth.uid() is not null)`). Conditions that are constants are
  `rls_policy_always_true`'s (lints_splinter). Columns are found in the deparsed expression
  (an unqualified name of one of the table's columns outside string literals); a column of
  another table in a sub-select is qualified by its alias and does not count.
- `rls_not_forced`: row level security enabled but not FORCEd on a table whose owner an API
  path can act as: an API role that is a member of the owner, or a SECURITY DEFINER function
  or definer view owned by (a member of) the owner that an exposed entry point leads to the
  table through (lints.definer_chains.reached_objects). The owner skips the table's policies
  unless they are forced. Owners that are superusers or BYPASSRLS skip them even when forced:
  FORCE would change nothing, so they are not this rule's (the definer paths to them are
  `security_definer_function_executable`'s and `definer_behind_invoker`'s).
- `policy_column_unindexed`: a column of its table that a policy's USING condition compares for
  equality (`owner_id = (select auth.uid())`, `bucket_id = 'avatars'`) and that leads no valid
  index of the table: each statement's policy filter then scans the table (a WITH CHECK is
  evaluated on the new row alone and needs no index). Schemas of
  Supabase's services are skipped, except exposed ones (`storage`).

`policy_exists_rls_disabled` warns in the exposed schemas and where an exposed path reaches
the table with the API role's rights (LintScope.reached_tables); elsewhere it informs.
"""

from __future__ import annotations

import re

import psycopg

from soberharness.lints.base import (
    EXPOSED_OR_REACHED,
    LintRule,
    LintScope,
    roles_text,
    rows,
    scope_params,
)
from soberharness.lints.definer_chains import reached_objects
from soberharness.lints.performance import SERVICE_SCHEMAS
from soberharness.records.results import LintFinding, Severity

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

_POLICIES = """
select n.nspname || '.' || c.relname, p.polname::text, c.relrowsecurity, p.polpermissive,
       case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE'
                     when 'd' then 'DELETE' else 'ALL' end,
       array(select case when r = 0 then 'public' else r::regrole::text end
             from unnest(p.polroles) as r order by 1),
       pg_catalog.pg_get_expr(p.polqual, p.polrelid),
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
       array(select a.attname::text from pg_catalog.pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)
from pg_catalog.pg_policy p
join pg_catalog.pg_class c on c.oid = p.polrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname <> all(%(system)s)
order by 1, 2
"""
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_CALL = re.compile(r'[\w"]\s*\(')
_ALIAS = re.compile(r'\bAS\s+(?:"[^"]*"|\w+)', re.IGNORECASE)  # "( SELECT auth.uid() AS uid)"


def _policies(conn: psycopg.Connection) -> list[tuple]:
    return rows(conn, _POLICIES, {"system": list(SYSTEM_SCHEMAS)})


def _api_facing(roles: list[str], scope: LintScope) -> list[str]:
    return [r for r in roles if r == "public" or r in scope.api_roles]


def reads_a_column(expr: str, columns: list[str]) -> bool:
    """Whether a deparsed policy expression names one of its table's columns, unqualified."""
    text = _ALIAS.sub("", _LITERAL.sub("''", expr))
    for column in columns:
        name = re.escape(column)
        if re.search(rf'(?<![\w."])(?:{name}|"{name}")(?![\w"(])(?!\s*\()', text):
            return True
    return False


def is_constant(expr: str) -> bool:
    """No column name and no call at all: literals and operators (always_true's business)."""
    return _CALL.search(_LITERAL.sub("''", expr)) is None


def policy_to_public(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    return [
        LintFinding(
            "policy_to_public", Severity.WARN, f"{table} policy {name}",
            f"policy {name} on {table} for {command} applies TO PUBLIC (every role, present and "
            "future): name the roles it is for",
        )
        for table, name, _rls, _perm, command, roles, _q, _c, _cols in _policies(conn)
        if "public" in roles
    ]


def insert_policy_without_check(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    findings: list[LintFinding] = []
    for table, name, _rls, permissive, command, roles, qual, check, _cols in _policies(conn):
        facing = _api_facing(roles, scope)
        open_insert = check is None and (
            command == "INSERT" or (command == "ALL" and qual is None))
        if permissive and facing and open_insert:
            findings.append(LintFinding(
                "insert_policy_without_check", Severity.WARN, f"{table} policy {name}",
                f"permissive {command} policy {name} on {table} for {roles_text(facing)} has "
                "no WITH CHECK: every inserted row passes, whoever it names as its owner",
            ))
    return findings


def policy_exists_rls_disabled(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    found = rows(conn, f"""
        select n.nspname || '.' || c.relname, {EXPOSED_OR_REACHED},
               array_agg(p.polname::text order by p.polname)
        from pg_catalog.pg_policy p
        join pg_catalog.pg_class c on c.oid = p.polrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where not c.relrowsecurity and n.nspname <> all(%(system)s)
        group by 1, 2 order by 1""", {**scope_params(scope), "system": list(SYSTEM_SCHEMAS)})
    return [
        LintFinding(
            "policy_exists_rls_disabled", Severity.WARN if exposed else Severity.INFO, table,
            f"table {table} has policies ({', '.join(names)}) but row level security is "
            "disabled: they guard nothing" + ("" if exposed else " (schema not exposed)"),
        )
        for table, exposed, names in found
    ]


_NOT_FORCED = """
select c.oid, n.nspname || '.' || c.relname, pg_catalog.pg_get_userbyid(c.relowner)::text,
       array(select r from unnest(%(roles)s::text[]) r
             where pg_catalog.pg_has_role(r, c.relowner, 'MEMBER'))
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_roles o on o.oid = c.relowner
where c.relkind in ('r', 'p') and c.relrowsecurity and not c.relforcerowsecurity
  and not o.rolsuper and not o.rolbypassrls
  and n.nspname <> all(%(system)s)
order by 2
"""


def _acts_as_owner(conn: psycopg.Connection, acting: str, owner: str) -> bool:
    got = rows(conn, "select pg_catalog.pg_has_role(%(a)s, %(o)s, 'MEMBER')",
               {"a": acting, "o": owner})
    return bool(got and got[0][0])


def rls_not_forced(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    tables = rows(conn, _NOT_FORCED, {**scope_params(scope), "system": list(SYSTEM_SCHEMAS)})
    if not tables:
        return []
    reached = reached_objects(conn, scope)
    findings: list[LintFinding] = []
    for oid, label, owner, members in tables:
        paths = [f"{r.entry} (as {r.acting_as})" for r in reached
                 if r.oid == oid and r.acting_as and _acts_as_owner(conn, r.acting_as, owner)]
        ways = [f"{m} is a member of {owner}" for m in members] + paths
        if ways:
            findings.append(LintFinding(
                "rls_not_forced", Severity.WARN, label,
                f"table {label} has row level security enabled but not forced, and an API path "
                f"acts as its owner {owner} ({'; '.join(sorted(ways)[:4])}): its policies do "
                "not apply there (ALTER TABLE ... FORCE ROW LEVEL SECURITY)",
            ))
    return findings


_EQUALITY_COLUMNS = """
select n.nspname || '.' || c.relname, p.polname::text,
       coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''),
       array(select a.attname::text
             from pg_catalog.pg_depend d
             join pg_catalog.pg_attribute a
               on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
             where d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
               and d.refobjid = c.oid and d.refobjsubid > 0
               and not exists (
                   select 1 from pg_catalog.pg_index x
                   where x.indrelid = c.oid and x.indisvalid and x.indkey[0] = a.attnum)
             order by a.attnum)
from pg_catalog.pg_policy p
join pg_catalog.pg_class c on c.oid = p.polrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relrowsecurity
  and (n.nspname = any(%(schemas)s) or n.nspname <> all(%(quiet)s))
order by 1, 2
"""


def compared_for_equality(expr: str, column: str) -> bool:
    """Whether a deparsed expression compares `column` (unqualified) with `=` or `IN`."""
    text = _ALIAS.sub("", _LITERAL.sub("''", expr))
    name = rf'(?:{re.escape(column)}|"{re.escape(column)}")'
    left = rf'(?<![\w."]){name}\s*(?:=(?![=>])|IN\b|=\s*ANY\b)'
    right = rf'(?<![<>!=])=\s*{name}(?![\w"(.])'
    return re.search(left, text, re.IGNORECASE) is not None or re.search(right, text) is not None


def policy_column_unindexed(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    quiet = [s for s in (*SYSTEM_SCHEMAS, *SERVICE_SCHEMAS) if s not in scope.exposed_schemas]
    findings: list[LintFinding] = []
    for table, name, expr, unindexed in rows(
            conn, _EQUALITY_COLUMNS, {"schemas": scope.exposed_schemas, "quiet": quiet}):
        for column in unindexed:
            if compared_for_equality(expr, column):
                findings.append(LintFinding(
                    "policy_column_unindexed", Severity.WARN, f"{table}.{column}",
                    f"policy {name} on {table} filters on {column} by equality, and no index "
                    f"of {table} starts with it: the policy's filter scans the table",
                ))
    return sorted(set(findings), key=lambda f: f.object)


def policy_reads_only_session(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    findings: list[LintFinding] = []
    for table, name, rls, _perm, command, _roles, qual, check, columns in _policies(conn):
        clauses = [
            label for label, expr in (("USING", qual), ("WITH CHECK", check))
            if expr is not None and not is_constant(expr) and not reads_a_column(expr, columns)
        ]
        if rls and clauses:
            findings.append(LintFinding(
                "policy_reads_only_session", Severity.WARN, f"{table} policy {name}",
                f"policy {name} on {table} for {command}: its {' and '.join(clauses)} reads no "
                "column of the row, only the session, so it admits every row or none",
            ))
    return findings


RULES: tuple[LintRule, ...] = (
    LintRule("policy_to_public", Severity.WARN, "policy that applies TO PUBLIC",
             policy_to_public),
    LintRule("insert_policy_without_check", Severity.WARN,
             "permissive INSERT policy for an API role without WITH CHECK",
             insert_policy_without_check),
    LintRule("policy_exists_rls_disabled", Severity.WARN,
             "policies on a table whose row level security is disabled",
             policy_exists_rls_disabled),
    LintRule("policy_reads_only_session", Severity.WARN,
             "policy condition that reads no column of its row, only the session",
             policy_reads_only_session),
    LintRule("rls_not_forced", Severity.WARN,
             "RLS not forced on a table whose owner an API path acts as",
             rls_not_forced),
    LintRule("policy_column_unindexed", Severity.WARN,
             "column a policy compares for equality that leads no index",
             policy_column_unindexed),
)
