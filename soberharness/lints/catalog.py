"""Static lints of a Supabase schema, in the spirit of Supabase's splinter.

Each rule is one catalog query that looks at what the API roles (`anon`, `authenticated`) can
reach in the schemas PostgREST exposes. Rules are listed in `RULES`, so a report can say which
ran. Objects are named `schema.relation` for tables and views, `schema.function(args)` for
functions (the identity arguments tell overloads apart). Pass the target's PGRST_DB_SCHEMAS as
`exposed_schemas` when it differs from Supabase's default.

Deliberate choices where splinter differs (it skips `storage` and is advisory):
- `storage` is checked like `public`: it is exposed through PostgREST in a Supabase stack.
- `rls_disabled_in_public` looks only at tables anon or authenticated hold some privilege on
  (splinter's current version does the same with SELECT): without one, no request reaches the
  table and RLS has nothing to guard. `rls_enabled_no_policy` is an error for every table in an
  exposed schema (SoberTube's rules demand a policy on each), where splinter only informs.
- `function_search_path_mutable` also covers `private`, where the policies' helpers live.
- Objects that belong to an extension (`pg_depend.deptype = 'e'`) are skipped, as splinter does.
- `security_definer_function_executable` skips functions returning `trigger`/`event_trigger`:
  PostgreSQL refuses to call those outside a trigger, so they are not reachable over RPC; what
  one does runs on a write to its table, which is linted as that table (its policies, the
  write-reach world lint). They are no entry points of the reach walk either (definer_chains).
- `auth_users_exposed` follows views built on views: a view over a view over `auth.users`
  counts. A foreign key to `auth.users` is not a reference through a view and is fine. A view
  found so is reported only for the API roles whose read of it succeeds, tried as the role in a
  savepoint rolled back (`can_read_as`): a `security_invoker` view over a table the role may not
  read fails with "permission denied" and exposes nothing.
- Scope: a table outside the exposed schemas that an exposed function or view reads with the
  API role's rights (definer_chains.invoker_reached_tables) is judged as exposed by
  `rls_disabled_in_public`, `rls_enabled_no_policy`, `email_column_exposed` and
  `anon_unexpected_grant`. `rls_enabled_no_policy` and `function_search_path_mutable` inform
  (Severity.INFO, never failing) about the project's other schemas, so that exposing one later
  is no surprise; `function_search_path_mutable` warns for any function an exposed path calls.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

import psycopg
from psycopg import sql

from soberharness.errors import HarnessError
from soberharness.lints import (
    performance as lints_performance,
)
from soberharness.lints import (
    policies as lints_policies,
)
from soberharness.lints import (
    splinter as lints_splinter,
)
from soberharness.lints.auth_hooks import hooks_use_user_metadata
from soberharness.lints.base import (
    EXPOSED_OR_REACHED,
    LintRule,
    LintScope,
    roles_text,
    rows,
    scope_params,
    user_functions,
)
from soberharness.lints.definer_chains import (
    definer_behind_invoker,
    invoker_reached_tables,
    reached_objects,
)
from soberharness.lints.realtime_publication import realtime_delete_reveals
from soberharness.records.results import LintFinding, Severity

DEFAULT_EXPOSED_SCHEMAS: tuple[str, ...] = ("public", "storage", "graphql_public")
DB_SCHEMAS_ENV = "SOBERHARNESS_DB_SCHEMAS"  # the target's PGRST_DB_SCHEMAS, comma-separated
API_ROLES: tuple[str, ...] = ("anon", "authenticated")
# Schemas whose functions must also pin their search_path: helpers that policies call.
HELPER_SCHEMAS: tuple[str, ...] = ("private",)
# Schemas whose objects Supabase's services and PostgreSQL own: no info about what is
# outside the exposed schemas there (the project does not write them).
QUIET_SCHEMAS: tuple[str, ...] = (
    *lints_performance.SYSTEM_SCHEMAS, *lints_performance.SERVICE_SCHEMAS)
# Privileges anon must never hold on anything in an exposed schema ("anon writes nothing").
ANON_FORBIDDEN = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
EMAIL_COLUMN_PATTERN = r"^(.*_)?e_?mail(_address)?$"  # email, e_mail, contact_email, ...


# SQL fragments shared by the rules. `%(roles)s` is the list of API roles.
_NOT_EXTENSION_MEMBER = """
    not exists (
        select 1 from pg_catalog.pg_depend d
        where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
          and d.deptype = 'e'
    )"""
_READERS = """
    array(
        select r from unnest(%(roles)s::text[]) as r
        where pg_catalog.has_any_column_privilege(r, c.oid, 'SELECT')
    )"""
# API roles holding any privilege at all on relation c (table- or column-level).
_HOLDERS = """
    array(
        select r from unnest(%(roles)s::text[]) as r
        where pg_catalog.has_table_privilege(
                  r, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
           or pg_catalog.has_any_column_privilege(
                  r, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
    )"""


_rows = rows
_params = scope_params
_roles_text = roles_text


# -- rules -----------------------------------------------------------------------------------
def rls_disabled_in_public(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # Like splinter's current version, only tables an API role holds a privilege on: a table
    # no request can touch (e.g. storage.migrations once revoked) has nothing for RLS to guard.
    rows = _rows(
        conn,
        f"""
        select name, holders, exposed from (
            select n.nspname || '.' || c.relname as name, {_HOLDERS} as holders,
                   n.nspname = any(%(schemas)s) as exposed
            from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('r', 'p')
              and {EXPOSED_OR_REACHED}
              and not c.relrowsecurity
              and {_NOT_EXTENSION_MEMBER}
        ) t
        where cardinality(holders) > 0
        order by name
        """,
        _params(scope),
    )
    return [
        LintFinding(
            "rls_disabled_in_public",
            Severity.ERROR,
            name,
            f"table {name} is "
            + ("in an exposed schema" if exposed else "read by an exposed function or view")
            + f" and reachable by {_roles_text(holders)} but row level security is disabled",
        )
        for name, holders, exposed in rows
    ]


def rls_enabled_no_policy(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # A table no API role holds any privilege on is internal (the Storage API's own tables:
    # migrations, s3_multipart_uploads, buckets_analytics, ...): RLS without a policy there is
    # deny-all by intent. Granted to an API role, it is a table the API serves nothing from.
    # Outside the exposed schemas (and not reached by an exposed path: those count as exposed)
    # it is an info, whatever the grants: deny-all today, a surprise once the schema is exposed.
    rows = _rows(
        conn,
        f"""
        select n.nspname || '.' || c.relname, {EXPOSED_OR_REACHED}
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p')
          and c.relrowsecurity
          and not exists (select 1 from pg_catalog.pg_policy p where p.polrelid = c.oid)
          and {_NOT_EXTENSION_MEMBER}
          and (({EXPOSED_OR_REACHED} and cardinality({_HOLDERS}) > 0)
               or not ({EXPOSED_OR_REACHED} or n.nspname = any(%(quiet)s)))
        order by 1
        """,
        {**_params(scope), "quiet": list(QUIET_SCHEMAS)},
    )
    return [
        LintFinding(
            "rls_enabled_no_policy", Severity.ERROR, name,
            f"table {name} has row level security enabled but no policy, and API roles hold "
            "privileges on it",
        ) if exposed else LintFinding(
            "rls_enabled_no_policy", Severity.INFO, name,
            f"table {name} (schema not exposed) has row level security enabled but no policy: "
            "it serves nothing once its schema is exposed",
        )
        for name, exposed in rows
    ]


def security_definer_view(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # reloptions holds 'security_invoker=<value>' as written; boolin accepts what CREATE VIEW
    # accepted (true/on/yes/1 and their prefixes).
    rows = _rows(
        conn,
        f"""
        select name, readers from (
            select n.nspname || '.' || c.relname as name,
                   {_READERS} as readers,
                   coalesce((
                       select bool_or(substr(o, length('security_invoker=') + 1)::boolean)
                       from unnest(c.reloptions) as o
                       where lower(o) like 'security\\_invoker=%%'
                   ), false) as invoker
            from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'v'
              and n.nspname = any(%(schemas)s)
              and {_NOT_EXTENSION_MEMBER}
        ) v
        where not invoker and cardinality(readers) > 0
        order by name
        """,
        _params(scope),
    )
    return [
        LintFinding(
            "security_definer_view",
            Severity.ERROR,
            name,
            f"view {name} runs with its owner's rights (no security_invoker) and is readable by "
            f"{_roles_text(readers)}",
        )
        for name, readers in rows
    ]


def security_definer_function_executable(
    conn: psycopg.Connection, scope: LintScope
) -> list[LintFinding]:
    rows = _rows(
        conn,
        """
        select name, executors from (
            select n.nspname || '.' || p.proname
                       || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
                       as name,
                   array(
                       select r from unnest(%(roles)s::text[]) as r
                       where pg_catalog.has_function_privilege(r, p.oid, 'EXECUTE')
                   ) as executors
            from pg_catalog.pg_proc p
            join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            where p.prosecdef
              and n.nspname = any(%(schemas)s)
              and p.prorettype not in ('pg_catalog.trigger'::regtype,
                                       'pg_catalog.event_trigger'::regtype)
              and not exists (
                  select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
                    and d.deptype = 'e'
              )
        ) f
        where cardinality(executors) > 0
        order by name
        """,
        _params(scope),
    )
    return [
        LintFinding(
            "security_definer_function_executable",
            Severity.ERROR,
            name,
            f"SECURITY DEFINER function {name} is executable by {_roles_text(executors)}",
        )
        for name, executors in rows
    ]


def _in_service_schema(qualified: str) -> bool:
    return qualified.partition(".")[0] in lints_performance.SERVICE_SCHEMAS


def function_search_path_mutable(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # A warning in the exposed and helper schemas and for any function of the project an
    # exposed path calls (definer_chains.reached_objects); an info in the project's other
    # schemas, and for a function a service's own migrations create in its schema (GoTrue's
    # auth.uid() and auth.jwt() have no fixed search_path: the stack cannot pin them, the
    # service's next migration replaces them, and splinter leaves those schemas out too).
    reached = sorted({r.oid for r in reached_objects(conn, scope) if r.kind == "function"})
    rows = _rows(
        conn,
        """
        select n.nspname || '.' || p.proname
                   || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
               n.nspname = any(%(schemas)s)
               or (p.oid = any(%(reached)s::oid[]) and not n.nspname = any(%(quiet)s))
        from pg_catalog.pg_proc p
        join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where (n.nspname = any(%(schemas)s) or p.oid = any(%(reached)s::oid[])
               or not (n.nspname = any(%(quiet)s) or n.nspname like 'pg\\_%%'))
          and p.prokind in ('f', 'p')
          and not exists (
              select 1 from unnest(coalesce(p.proconfig, '{}')) as setting
              where setting like 'search\\_path=%%'
          )
          and not exists (
              select 1 from pg_catalog.pg_depend d
              where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
                and d.deptype = 'e'
          )
        order by 1
        """,
        {"schemas": scope.exposed_schemas + scope.helper_schemas, "reached": reached,
         "quiet": list(QUIET_SCHEMAS)},
    )
    return [
        LintFinding(
            "function_search_path_mutable",
            Severity.WARN if warn else Severity.INFO,
            name,
            f"function {name} has no fixed search_path (set one with SET search_path)"
            + ("" if warn else "; no exposed path calls it yet" if not _in_service_schema(name)
               else "; a service's own migrations create it"),
        )
        for name, warn in rows
    ]


def auth_users_exposed(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # Views and materialized views whose query reads auth.users, directly or through other
    # views: a view's query is its _RETURN rule, which depends on every relation it reads.
    rows = _rows(
        conn,
        f"""
        with recursive reads_users(oid) as (
            select r.ev_class
            from pg_catalog.pg_depend d
            join pg_catalog.pg_rewrite r on r.oid = d.objid
            where d.classid = 'pg_catalog.pg_rewrite'::regclass
              and d.refclassid = 'pg_catalog.pg_class'::regclass
              and d.refobjid = to_regclass('auth.users')
              and r.ev_class <> d.refobjid
            union
            select r.ev_class
            from reads_users u
            join pg_catalog.pg_depend d
              on d.refobjid = u.oid and d.refclassid = 'pg_catalog.pg_class'::regclass
             and d.classid = 'pg_catalog.pg_rewrite'::regclass
            join pg_catalog.pg_rewrite r on r.oid = d.objid
            where r.ev_class <> u.oid
        )
        select name, kind, readers, nspname, relname from (
            select n.nspname || '.' || c.relname as name, n.nspname::text, c.relname::text,
                   case c.relkind when 'm' then 'materialized view' else 'view' end as kind,
                   {_READERS} as readers
            from reads_users u
            join pg_catalog.pg_class c on c.oid = u.oid
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('v', 'm')
              and n.nspname = any(%(schemas)s)
        ) v
        where cardinality(readers) > 0
        order by name
        """,
        _params(scope),
    )
    findings = []
    for name, kind, readers, schema, relation in rows:
        able = [r for r in readers if can_read_as(conn, r, schema, relation)]
        if able:
            findings.append(LintFinding(
                "auth_users_exposed", Severity.ERROR, name,
                f"{kind} {name} reads auth.users and {_roles_text(able)} can read it",
            ))
    return findings


class _ReadRefused(Exception):
    """The read as the role ended in "permission denied"."""


def can_read_as(conn: psycopg.Connection, role: str, schema: str, relation: str) -> bool:
    """Whether `role` can read `schema.relation`, tried as the role in a savepoint rolled back:
    only "permission denied" (a security_invoker view over a table the role may not read)
    says no; any other outcome counts as readable."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(b"set local statement_timeout = '5s'")
            # A lint connection that may not become the role cannot tell: readable.
            conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)).as_bytes(conn))
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("select from {}.{} limit 1").format(
                        sql.Identifier(schema), sql.Identifier(relation)).as_bytes(conn))
            except psycopg.errors.InsufficientPrivilege:
                raise _ReadRefused from None
    except _ReadRefused:
        return False
    except psycopg.Error:
        return True
    return True


def email_column_exposed(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    rows = _rows(
        conn,
        f"""
        select name, string_agg(distinct column_name, ', ' order by column_name),
               array_agg(distinct role order by role)
        from (
            select n.nspname || '.' || c.relname as name, a.attname::text as column_name, r as role
            from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            join pg_catalog.pg_attribute a
              on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
            cross join unnest(%(roles)s::text[]) as r
            where c.relkind in ('r', 'p', 'v', 'm', 'f')
              and {EXPOSED_OR_REACHED}
              and lower(a.attname) ~ %(pattern)s
              and pg_catalog.has_column_privilege(r, c.oid, a.attnum, 'SELECT')
              and {_NOT_EXTENSION_MEMBER}
        ) readable
        group by name
        order by name
        """,
        {**_params(scope), "pattern": EMAIL_COLUMN_PATTERN},
    )
    return [
        LintFinding(
            "email_column_exposed",
            Severity.ERROR,
            name,
            f"{name} has e-mail column(s) {columns} readable by {_roles_text(readers)}",
        )
        for name, columns, readers in rows
    ]


def anon_unexpected_grant(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # Column-level grants count for INSERT/UPDATE/REFERENCES/SELECT; has_*_privilege also
    # counts what PUBLIC holds.
    rows = _rows(
        conn,
        f"""
        select name, privileges, rls_off from (
            select n.nspname || '.' || c.relname as name,
                   array_remove(array[
                       case when has_any_column_privilege('anon', c.oid, 'SELECT')
                            then 'SELECT' end,
                       case when has_any_column_privilege('anon', c.oid, 'INSERT')
                            then 'INSERT' end,
                       case when has_any_column_privilege('anon', c.oid, 'UPDATE')
                            then 'UPDATE' end,
                       case when has_table_privilege('anon', c.oid, 'DELETE')
                            then 'DELETE' end,
                       case when has_table_privilege('anon', c.oid, 'TRUNCATE')
                            then 'TRUNCATE' end,
                       case when has_any_column_privilege('anon', c.oid, 'REFERENCES')
                            then 'REFERENCES' end,
                       case when has_table_privilege('anon', c.oid, 'TRIGGER')
                            then 'TRIGGER' end
                   ], null) as privileges,
                   c.relkind in ('r', 'p') and not c.relrowsecurity as rls_off
            from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('r', 'p', 'v', 'm', 'f')
              and {EXPOSED_OR_REACHED}
              and {_NOT_EXTENSION_MEMBER}
        ) t
        where cardinality(privileges) > 0
        order by name
        """,
        _params(scope),
    )
    findings: list[LintFinding] = []
    for name, privileges, rls_off in rows:
        if rls_off:
            flagged = list(privileges)
            why = "on a table without row level security"
        else:
            flagged = [p for p in privileges if p in ANON_FORBIDDEN]
            why = "(anon writes nothing)"
        if flagged:
            findings.append(
                LintFinding(
                    "anon_unexpected_grant",
                    Severity.ERROR,
                    name,
                    f"anon holds {', '.join(flagged)} on {name} {why}",
                )
            )
    return findings


def materialized_view_in_api(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    rows = _rows(
        conn,
        f"""
        select name, readers from (
            select n.nspname || '.' || c.relname as name, {_READERS} as readers
            from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'm'
              and n.nspname = any(%(schemas)s)
              and {_NOT_EXTENSION_MEMBER}
        ) m
        where cardinality(readers) > 0
        order by name
        """,
        _params(scope),
    )
    return [
        LintFinding(
            "materialized_view_in_api",
            Severity.WARN,
            name,
            f"materialized view {name} (no row level security) is readable by "
            f"{_roles_text(readers)}",
        )
        for name, readers in rows
    ]


def materialized_view_in_exposed_schema(
    conn: psycopg.Connection, scope: LintScope
) -> list[LintFinding]:
    # The readable ones are materialized_view_in_api's. An unreadable one is one GRANT (or the
    # image's default privileges on the next re-create) away from serving every row to anyone.
    rows = _rows(
        conn,
        f"""
        select n.nspname || '.' || c.relname
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'm'
          and n.nspname = any(%(schemas)s)
          and {_NOT_EXTENSION_MEMBER}
          and cardinality({_READERS}) = 0
        order by 1
        """,
        _params(scope),
    )
    return [
        LintFinding(
            "materialized_view_in_exposed_schema",
            Severity.WARN,
            name,
            f"materialized view {name} (no row level security) is in an exposed schema; no API "
            "role may read it yet, a grant would serve every row",
        )
        for (name,) in rows
    ]


USER_METADATA_PATTERN = r"user_metadata|raw_user_meta_data"


def policy_uses_user_metadata(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # A user writes their own user_metadata (GoTrue's PUT /auth/v1/user), so a policy that
    # decides on it lets the user decide. Looks at each policy's expressions and at every
    # function they call, and the functions those call in turn (a function body names what it
    # calls; any function whose name appears followed by "(" counts, erring towards looking).
    rows = _rows(
        conn,
        rf"""
        with recursive pol as (
            select p.oid, n.nspname || '.' || c.relname as relation, p.polname::text as name,
                   coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '') || ' ' ||
                   coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '') as expr
            from pg_catalog.pg_policy p
            join pg_catalog.pg_class c on c.oid = p.polrelid
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any(%(schemas)s)
        ),
        fn as ({user_functions()}
        ),
        reached(policy_oid, fn_oid) as (
            select d.objid, d.refobjid
            from pg_catalog.pg_depend d
            where d.classid = 'pg_catalog.pg_policy'::regclass
              and d.refclassid = 'pg_catalog.pg_proc'::regclass
              and d.objid in (select oid from pol)
            union
            select r.policy_oid, callee.oid
            from reached r
            join fn caller on caller.oid = r.fn_oid
            join fn callee on caller.body ~ ('\m' || callee.short || '\s*\(')
        )
        select pol.relation, pol.name, null::text
        from pol where pol.expr ~* %(pattern)s
        union
        select pol.relation, pol.name, fn.name
        from reached r
        join pol on pol.oid = r.policy_oid
        join fn on fn.oid = r.fn_oid
        where fn.body ~* %(pattern)s
        order by 1, 2, 3
        """,
        {**_params(scope), "pattern": USER_METADATA_PATTERN},
    )
    findings: list[LintFinding] = []
    for relation, policy, function in rows:
        where = f"policy {policy} on {relation}"
        if function is None:
            obj, message = f"{relation} policy {policy}", f"{where} decides on user_metadata"
        else:
            obj = function
            message = f"function {function}, called by {where}, decides on user_metadata"
        findings.append(LintFinding(
            "policy_uses_user_metadata", Severity.ERROR, obj,
            message + " (a user writes their own user_metadata; use app_metadata)",
        ))
    return findings + hooks_use_user_metadata(conn, scope.auth_hooks, USER_METADATA_PATTERN)


RULES: tuple[LintRule, ...] = (
    LintRule(
        "rls_disabled_in_public",
        Severity.ERROR,
        "table in an exposed schema with row level security disabled",
        rls_disabled_in_public,
    ),
    LintRule(
        "rls_enabled_no_policy",
        Severity.ERROR,
        "table in an exposed schema with row level security enabled but no policy",
        rls_enabled_no_policy,
    ),
    LintRule(
        "security_definer_view",
        Severity.ERROR,
        "view readable by anon/authenticated that does not run as the invoker",
        security_definer_view,
    ),
    LintRule(
        "security_definer_function_executable",
        Severity.ERROR,
        "SECURITY DEFINER function executable by anon/authenticated (PUBLIC included)",
        security_definer_function_executable,
    ),
    LintRule(
        "function_search_path_mutable",
        Severity.WARN,
        "function in an exposed or helper schema without a fixed search_path",
        function_search_path_mutable,
    ),
    LintRule(
        "auth_users_exposed",
        Severity.ERROR,
        "view or materialized view reading auth.users, readable by anon/authenticated",
        auth_users_exposed,
    ),
    LintRule(
        "email_column_exposed",
        Severity.ERROR,
        "e-mail column in a table or view readable by anon/authenticated",
        email_column_exposed,
    ),
    LintRule(
        "anon_unexpected_grant",
        Severity.ERROR,
        "anon holds a write privilege, or any privilege on a table without RLS",
        anon_unexpected_grant,
    ),
    LintRule(
        "materialized_view_in_api",
        Severity.WARN,
        "materialized view readable by anon/authenticated",
        materialized_view_in_api,
    ),
    LintRule(
        "materialized_view_in_exposed_schema",
        Severity.WARN,
        "materialized view in an exposed schema that no API role reads (yet)",
        materialized_view_in_exposed_schema,
    ),
    LintRule(
        "definer_behind_invoker",
        Severity.WARN,
        "exposed invoker function or view reaching a definer function or view elsewhere",
        definer_behind_invoker,
    ),
    LintRule(
        "realtime_delete_reveals",
        Severity.ERROR,
        "table published to Realtime whose DELETE payload reveals rows RLS hides",
        realtime_delete_reveals,
    ),
    LintRule(
        "policy_uses_user_metadata",
        Severity.ERROR,
        "policy, or a function it calls, deciding on user-writable user_metadata",
        policy_uses_user_metadata,
    ),
    # splinter's other classes, its performance lints, and pgrls's policy-shape classes.
    *lints_splinter.RULES,
    *lints_performance.RULES,
    *lints_policies.RULES,
)


def exposed_schemas(extra: Sequence[str] = ()) -> list[str]:
    """Supabase's exposed schemas plus the target's own (`extra`, or SOBERHARNESS_DB_SCHEMAS)."""
    configured = [s.strip() for s in os.environ.get(DB_SCHEMAS_ENV, "").split(",")]
    return list(dict.fromkeys([*DEFAULT_EXPOSED_SCHEMAS, *extra, *(s for s in configured if s)]))


def rule_names() -> list[str]:
    return [rule.name for rule in RULES]


def _missing_roles(conn: psycopg.Connection, roles: Sequence[str]) -> list[str]:
    rows = _rows(
        conn,
        "select r from unnest(%(roles)s::text[]) as r "
        "where not exists (select 1 from pg_catalog.pg_roles where rolname = r)",
        {"roles": list(roles)},
    )
    return [r for (r,) in rows]


def run_lints(
    conn: psycopg.Connection,
    exposed_schemas: Sequence[str] = DEFAULT_EXPOSED_SCHEMAS,
    rules: Sequence[LintRule] = RULES,
    auth_hooks: Mapping[str, str] | None = None,
) -> list[LintFinding]:
    """Run `rules` against the database behind `conn`; findings sorted by severity, rule, object.

    `auth_hooks` names the functions the target's auth service calls (lints/auth_hooks.py).
    Read-only. Runs in a transaction (a savepoint if one is open) so a failing query leaves
    the connection usable.
    """
    scope = LintScope(list(exposed_schemas), list(API_ROLES), list(HELPER_SCHEMAS),
                      auth_hooks=dict(auth_hooks or {}))
    findings: list[LintFinding] = []
    try:
        with conn.transaction():
            missing = _missing_roles(conn, scope.api_roles)
            if missing:
                raise HarnessError(
                    f"role(s) {', '.join(missing)} missing: the database has no Supabase API "
                    "roles, apply stack/bootstrap first"
                )
            scope = dataclasses.replace(
                scope, reached_tables=invoker_reached_tables(conn, scope))
            for rule in rules:
                findings.extend(rule.run(conn, scope))
    except psycopg.Error as exc:
        cause = (exc.diag.message_primary or str(exc)).strip()
        raise HarnessError(f"schema lint query failed: {cause}") from None
    order = {Severity.ERROR: 0, Severity.WARN: 1, Severity.INFO: 2}
    return sorted(findings, key=lambda f: (order[f.severity], f.rule, f.object))
