"""What every schema lint rule is made of: its scope, its record, and one catalog query helper."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import psycopg

from soberharness.records.results import LintFinding, Severity


@dataclasses.dataclass(frozen=True)
class LintScope:
    """What a rule looks at: the exposed schemas and the roles requests run as."""

    exposed_schemas: list[str]
    api_roles: list[str]
    helper_schemas: list[str]
    # Tables outside the exposed schemas an exposed function or view reads with the API
    # role's own rights (lints.definer_chains.invoker_reached_tables): linted as exposed.
    reached_tables: list[int] = dataclasses.field(default_factory=list)
    # Functions the auth service calls as hooks: `schema.function` -> the setting naming it.
    auth_hooks: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LintRule:
    name: str
    severity: Severity
    summary: str
    check: Callable[[psycopg.Connection, LintScope], list[LintFinding]]

    def run(self, conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
        return self.check(conn, scope)


def rows(conn: psycopg.Connection, sql: str, params: dict[str, object]) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql.encode(), params)
        return list(cur.fetchall())


def scope_params(scope: LintScope) -> dict[str, object]:
    return {"schemas": scope.exposed_schemas, "roles": scope.api_roles,
            "reached": scope.reached_tables}


# A relation `c` of namespace `n` that an API request reaches: in an exposed schema, or read
# by an exposed function or view with the API role's rights (needs `scope_params`).
EXPOSED_OR_REACHED = "(n.nspname = any(%(schemas)s) or c.oid = any(%(reached)s::oid[]))"


_FUNCTION_NAME = ("n.nspname || '.' || f.proname"
                  " || '(' || pg_catalog.pg_get_function_identity_arguments(f.oid) || ')' as name")


def user_functions(*extra_columns: str) -> str:
    """A select of the database's own functions `f` of namespace `n` (outside the system
    schemas; an extension's members are the extension's business) as a body-text walk needs
    them: `oid`, `name` (schema.name(argument types)), `short` (its bare name), `body` (its
    source text), then `extra_columns`. The `fn` CTE of the user_metadata lints."""
    columns = ",\n           ".join(("f.oid", _FUNCTION_NAME, "f.proname::text as short",
                                     "coalesce(f.prosrc, '') as body", *extra_columns))
    return f"""
    select {columns}
    from pg_catalog.pg_proc f
    join pg_catalog.pg_namespace n on n.oid = f.pronamespace
    where n.nspname not in ('pg_catalog', 'information_schema')
      and not exists (
          select 1 from pg_catalog.pg_depend d
          where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = f.oid
            and d.deptype = 'e')"""


def roles_text(roles: Sequence[str]) -> str:
    return " and ".join(roles)
