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
"""

from __future__ import annotations

import re

import psycopg

from soberharness.checker.lint_base import LintRule, LintScope, roles_text, rows
from soberharness.checker.results import LintFinding, Severity

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
    dormant: dict[str, list[str]] = {}
    for table, name, rls, *_ in _policies(conn):
        if not rls:
            dormant.setdefault(table, []).append(name)
    return [
        LintFinding(
            "policy_exists_rls_disabled", Severity.WARN, table,
            f"table {table} has policies ({', '.join(names)}) but row level security is "
            "disabled: they guard nothing",
        )
        for table, names in sorted(dormant.items())
    ]


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
)
