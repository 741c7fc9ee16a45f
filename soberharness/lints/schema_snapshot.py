"""A comparable picture of a database schema: relations, columns, policies, functions,
triggers, grants and publication members, as a set of lines."""

from __future__ import annotations

import psycopg

SKIP = "('pg_catalog', 'information_schema', 'pg_toast')"

QUERIES = (
    f"""select 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' rls='
        || c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname not in {SKIP} and n.nspname not like 'pg_temp%'""",
    f"""select 'col ' || table_schema || '.' || table_name || '.' || column_name || ' '
        || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
        from information_schema.columns where table_schema not in {SKIP}""",
    """select 'policy ' || schemaname || '.' || tablename || '.' || policyname || ' ' || cmd
        || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '') from pg_policies""",
    f"""select 'func ' || n.nspname || '.' || p.proname || '(' ||
        pg_get_function_identity_arguments(p.oid) || ') ' || md5(p.prosrc) || ' sd=' ||
        p.prosecdef from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname not in {SKIP}""",
    """select 'trigger ' || tgrelid::regclass || '.' || tgname from pg_trigger
        where not tgisinternal""",
    f"""select 'grant ' || table_schema || '.' || table_name || ' ' || grantee || ' '
        || privilege_type from information_schema.role_table_grants
        where table_schema not in {SKIP}""",
    """select 'pub ' || pubname || ' ' || schemaname || '.' || tablename
        from pg_publication_tables""",
    f"""select 'type ' || n.nspname || '.' || t.typname from pg_type t
        join pg_namespace n on n.oid = t.typnamespace
        where n.nspname not in {SKIP} and t.typtype in ('e', 'd')""",
)


def snapshot(conn: psycopg.Connection) -> frozenset[str]:
    lines: set[str] = set()
    for query in QUERIES:
        lines.update(row[0] for row in conn.execute(query.encode()).fetchall())
    return frozenset(lines)
