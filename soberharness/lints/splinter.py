"""Security lints for the classes of Supabase's splinter the first rule set had no counterpart for.

Each rule is one catalog query (this project's own; splinter's definitions were read to learn
what each class is about). Where the harness judges differently from splinter, the rule says so:

- `rls_policy_always_true`: a permissive UPDATE/DELETE/ALL policy for an API role (or PUBLIC)
  whose USING is absent or a constant truth, or any permissive write policy whose WITH CHECK is
  a constant truth. A constant truth is recognised by the database, not by the text: an
  expression that calls no function evaluates, on its own, to true (`true`, `1 = 1`, ...). A
  permissive INSERT policy with no WITH CHECK at all is `insert_policy_without_check`'s
  (lints_policies), so one defect is one finding.
- `public_bucket_allows_listing`: a public bucket and a permissive SELECT (or ALL) policy on
  storage.objects for an API role or PUBLIC whose condition reads no column but `bucket_id`
  and calls no function of the database (pg_depend), and either names the bucket or does not
  look at the bucket at all. Public objects are served by URL without any policy; such a
  policy only adds listing every file name of the bucket.
- `foreign_table_in_api`: a foreign table in an exposed schema, or read by an exposed function
  or view with the API role's rights (LintScope.reached_tables), that an API role holds any
  privilege on (splinter: SELECT only). Foreign tables have no row level security, so this is
  an error, like `rls_disabled_in_public`.
- `extension_in_public`: an extension installed into any exposed schema (splinter: `public`
  only); its functions and tables are then part of the API. plpgsql is left out.
- `extension_versions_outdated`: an installed extension whose version is not the default the
  server ships (`ALTER EXTENSION ... UPDATE`). Versions not known to the server are skipped.
- `unsupported_reg_types`: a column, in any user schema, of a reg* type that stores an OID
  pg_upgrade cannot carry over (regproc, regprocedure, regoper, regoperator, regconfig,
  regdictionary, regnamespace, regcollation), also through a domain or an array of one.
  regclass, regtype and regrole are fine (pg_upgrade keeps those OIDs).
- `fkey_to_auth_unique`: a foreign key from outside `auth` to an `auth` table whose referenced
  columns are not that table's primary key (GoTrue may drop or change its unique constraints in
  a migration). Judged by the columns, not by the index PostgreSQL picked: `auth.users.id` has
  both a primary key and a unique constraint (GoTrue's first migration), so a foreign key to
  `auth.users(id)` may be bound to the unique index and still be fine.
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
from soberharness.records.results import LintFinding, Severity

# A relation or extension object that belongs to an extension is the extension's business.
_NOT_EXTENSION_MEMBER = """
    not exists (select 1 from pg_catalog.pg_depend d
                where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
                  and d.deptype = 'e')"""
# Roles a policy applies to that an API request can run as: PUBLIC (oid 0) or an API role.
_POLICY_API_ROLES = """
    array(select case when r = 0 then 'public' else r::regrole::text end
          from unnest(p.polroles) as r
          where r = 0 or r::regrole::text = any(%(roles)s::text[])
          order by 1)"""
# Columns of its table a policy reads, and functions (not built in) it calls.
_POLICY_COLUMNS = """
    array(select a.attname::text
          from pg_catalog.pg_depend d
          join pg_catalog.pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
          where d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
            and d.refclassid = 'pg_catalog.pg_class'::regclass and d.refobjsubid > 0)"""
_POLICY_CALLS = """
    exists (select 1 from pg_catalog.pg_depend d
            where d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
              and d.refclassid = 'pg_catalog.pg_proc'::regclass)"""
_COMMANDS = "case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' " \
            "when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end"
# The OID-carrying reg* types pg_upgrade refuses in user columns.
UNSUPPORTED_REG_TYPES = (
    "regproc", "regprocedure", "regoper", "regoperator", "regconfig", "regdictionary",
    "regnamespace", "regcollation",
)
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
_CALL = re.compile(r'[\w"]\s*\(')  # a function call in deparsed SQL


def _constant_truth(conn: psycopg.Connection, expression: str | None) -> bool:
    """Whether a policy expression is a constant truth, asked of the database.

    Evaluated only when it calls no function at all (literals, operators, casts), so running
    it in a savepoint changes nothing and cannot wait; one that names a column of its table
    fails to evaluate alone (no such column) and is no constant."""
    if expression is None or _CALL.search(expression):
        return False
    try:
        with conn.transaction():
            got = rows(conn, f"select ({expression})::boolean", {})
    except psycopg.Error:
        return False
    return bool(got and got[0][0] is True)


_POLICIES = f"""
select n.nspname || '.' || c.relname, p.polname::text, {_COMMANDS},
       pg_catalog.pg_get_expr(p.polqual, p.polrelid),
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
       {_POLICY_API_ROLES}
from pg_catalog.pg_policy p
join pg_catalog.pg_class c on c.oid = p.polrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where p.polpermissive and c.relrowsecurity
  and n.nspname <> all(%(system)s)
  and cardinality({_POLICY_API_ROLES}) > 0
order by 1, 2
"""


def rls_policy_always_true(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    params = {**scope_params(scope), "system": list(SYSTEM_SCHEMAS)}
    findings: list[LintFinding] = []
    for table, policy, command, qual, check, roles in rows(conn, _POLICIES, params):
        if command == "SELECT" or (command == "INSERT" and check is None):
            # SELECT USING (true) is a deliberate public read; INSERT with no WITH CHECK is
            # insert_policy_without_check's.
            continue
        open_using = command != "INSERT" and (
            qual is None or _constant_truth(conn, qual))
        open_check = _constant_truth(conn, check)
        if command in ("UPDATE", "ALL") and check is None and open_using:
            open_check = True  # WITH CHECK falls back to the open USING
        if not (open_using or open_check):
            continue
        what = " and ".join(
            w for w, on in (("USING", open_using), ("WITH CHECK", open_check)) if on)
        findings.append(LintFinding(
            "rls_policy_always_true", Severity.WARN, f"{table} policy {policy}",
            f"policy {policy} on {table} for {command} to {roles_text(roles)} lets every row "
            f"through ({what} always true): row level security guards nothing there",
        ))
    return findings


_BUCKET_POLICIES = f"""
select p.polname::text, pg_catalog.pg_get_expr(p.polqual, p.polrelid),
       {_POLICY_API_ROLES}, {_POLICY_COLUMNS}, {_POLICY_CALLS}
from pg_catalog.pg_policy p
where p.polrelid = to_regclass('storage.objects') and p.polpermissive
  and p.polcmd in ('r', '*')
  and cardinality({_POLICY_API_ROLES}) > 0
order by 1
"""


def _public_buckets(conn: psycopg.Connection) -> list[str]:
    if rows(conn, "select to_regclass('storage.buckets') is null", {})[0][0]:
        return []
    return [b for (b,) in rows(
        conn, "select id::text from storage.buckets where public order by 1", {})]


def _lists_bucket(bucket: str, qual: str | None, columns: list[str], calls: bool) -> bool:
    """Whether the condition lets any API role see every object of `bucket`: it reads nothing
    but bucket_id (or nothing at all) and, when it reads bucket_id, names this bucket."""
    if qual is None:
        return True
    if calls or set(columns) - {"bucket_id"}:
        return False
    if not columns:
        return True  # a constant: every bucket or none; listing every bucket when true
    return "'" + bucket.replace("'", "''") + "'" in qual


def public_bucket_allows_listing(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    buckets = _public_buckets(conn)
    if not buckets:
        return []
    policies = rows(conn, _BUCKET_POLICIES, scope_params(scope))
    findings: list[LintFinding] = []
    for bucket in buckets:
        listing = [(name, roles) for name, qual, roles, columns, calls in policies
                   if _lists_bucket(bucket, qual, columns, calls)]
        if not listing:
            continue
        names = ", ".join(name for name, _ in listing)
        roles = sorted({r for _, rs in listing for r in rs})
        findings.append(LintFinding(
            "public_bucket_allows_listing", Severity.WARN, f"storage bucket {bucket}",
            f"public bucket {bucket} has a SELECT policy on storage.objects ({names}) for "
            f"{roles_text(roles)} that reads nothing but the bucket: anyone may list every "
            "file name in it (public objects are served by URL without a policy)",
        ))
    return findings


def foreign_table_in_api(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    found = rows(conn, f"""
        select name, holders from (
            select n.nspname || '.' || c.relname as name,
                   array(select r from unnest(%(roles)s::text[]) r
                         where pg_catalog.has_table_privilege(
                                   r, c.oid, 'SELECT, INSERT, UPDATE, DELETE')
                            or pg_catalog.has_any_column_privilege(
                                   r, c.oid, 'SELECT, INSERT, UPDATE')) as holders
            from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'f' and {EXPOSED_OR_REACHED} and {_NOT_EXTENSION_MEMBER}
        ) t
        where cardinality(holders) > 0
        order by 1
        """, scope_params(scope))
    return [
        LintFinding(
            "foreign_table_in_api", Severity.ERROR, name,
            f"foreign table {name} is reachable through the API (an exposed schema, or an "
            f"exposed function or view reading it) by {roles_text(holders)}: foreign tables "
            "have no row level security",
        )
        for name, holders in found
    ]


def extension_in_public(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    found = rows(conn, """
        select e.extname::text, n.nspname::text
        from pg_catalog.pg_extension e
        join pg_catalog.pg_namespace n on n.oid = e.extnamespace
        where n.nspname = any(%(schemas)s) and e.extname <> 'plpgsql'
        order by 1
        """, scope_params(scope))
    return [
        LintFinding(
            "extension_in_public", Severity.WARN, f"extension {name}",
            f"extension {name} is installed in exposed schema {schema}: its functions and "
            "tables are part of the API (install it into the extensions schema)",
        )
        for name, schema in found
    ]


def extension_versions_outdated(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    found = rows(conn, """
        select e.name::text, e.installed_version, e.default_version
        from pg_catalog.pg_available_extensions e
        where e.installed_version is not null and e.default_version is not null
          and e.installed_version <> e.default_version
          and exists (select 1 from pg_catalog.pg_available_extension_versions v
                      where v.name = e.name and v.version = e.installed_version)
        order by 1
        """, {})
    return [
        LintFinding(
            "extension_versions_outdated", Severity.WARN, f"extension {name}",
            f"extension {name} is at version {installed}; the server ships {default} "
            f"(ALTER EXTENSION {name} UPDATE)",
        )
        for name, installed, default in found
    ]


def unsupported_reg_types(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    # A type is unsupported when it is one of the reg* types, or a domain over / array of one.
    found = rows(conn, f"""
        with recursive bad(oid, root) as (
            select t.oid, t.typname::text from pg_catalog.pg_type t
            where t.typnamespace = 'pg_catalog'::regnamespace and t.typname = any(%(types)s)
            union
            select t.oid, b.root from pg_catalog.pg_type t
            join bad b on t.typbasetype = b.oid or t.typelem = b.oid
        )
        select n.nspname || '.' || c.relname, a.attname::text, b.root
        from pg_catalog.pg_attribute a
        join pg_catalog.pg_class c on c.oid = a.attrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        join bad b on b.oid = a.atttypid
        where c.relkind in ('r', 'p', 'm') and a.attnum > 0 and not a.attisdropped
          and n.nspname <> all(%(system)s) and {_NOT_EXTENSION_MEMBER}
        order by 1, 2
        """, {"types": list(UNSUPPORTED_REG_TYPES), "system": list(SYSTEM_SCHEMAS)})
    return [
        LintFinding(
            "unsupported_reg_types", Severity.WARN, f"{table}.{column}",
            f"column {column} of {table} stores a {root} (an OID): pg_upgrade refuses it, so "
            "the database cannot be upgraded in place",
        )
        for table, column, root in found
    ]


def fkey_to_auth_unique(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    found = rows(conn, """
        select n.nspname || '.' || c.relname, k.conname::text,
               rn.nspname || '.' || rc.relname,
               array(select a.attname::text
                     from unnest(k.confkey) with ordinality as x(attnum, i)
                     join pg_catalog.pg_attribute a
                       on a.attrelid = k.confrelid and a.attnum = x.attnum
                     order by x.i)
        from pg_catalog.pg_constraint k
        join pg_catalog.pg_class c on c.oid = k.conrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        join pg_catalog.pg_class rc on rc.oid = k.confrelid
        join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
        where k.contype = 'f' and rn.nspname = 'auth' and n.nspname <> 'auth'
          and not exists (
              select 1 from pg_catalog.pg_index i
              where i.indrelid = k.confrelid and i.indisprimary
                and (select array_agg(x order by x) from unnest(i.indkey::int2[]) x)
                    = (select array_agg(x order by x) from unnest(k.confkey) x))
        order by 1, 2
        """, {})
    return [
        LintFinding(
            "fkey_to_auth_unique", Severity.ERROR, f"{table} constraint {name}",
            f"foreign key {name} of {table} references {target}({', '.join(columns)}), a unique "
            "key of the auth schema that is not its primary key: GoTrue may drop or change it "
            "in a migration (reference the primary key)",
        )
        for table, name, target, columns in found
    ]


RULES: tuple[LintRule, ...] = (
    LintRule("rls_policy_always_true", Severity.WARN,
             "permissive write policy for an API role whose USING or WITH CHECK is always true",
             rls_policy_always_true),
    LintRule("public_bucket_allows_listing", Severity.WARN,
             "public bucket with a SELECT policy on storage.objects that lets anyone list it",
             public_bucket_allows_listing),
    LintRule("foreign_table_in_api", Severity.ERROR,
             "foreign table (no row level security) in an exposed schema an API role reaches",
             foreign_table_in_api),
    LintRule("extension_in_public", Severity.WARN,
             "extension installed into an exposed schema", extension_in_public),
    LintRule("extension_versions_outdated", Severity.WARN,
             "installed extension older than the version the server ships",
             extension_versions_outdated),
    LintRule("unsupported_reg_types", Severity.WARN,
             "column of a reg* type pg_upgrade refuses", unsupported_reg_types),
    LintRule("fkey_to_auth_unique", Severity.ERROR,
             "foreign key to an auth table's unique key other than its primary key",
             fkey_to_auth_unique),
)
