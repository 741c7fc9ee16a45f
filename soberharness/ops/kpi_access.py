"""Who may read the KPI views (migration 0016_kpi_views): schema `monitoring` is for the
exporter's login and pg_monitor only. The views read past RLS (they count private content and
pending follow requests), so an API role that could read them would learn what the access rules
hide from it. Asked of PostgreSQL's own privilege functions, for every object in the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SCHEMA = "monitoring"
# The roles PostgREST, Realtime and Storage switch to for API callers (service_role bypasses RLS
# by design, but has no business with the operators' schema either).
API_ROLES: tuple[str, ...] = ("anon", "authenticated", "service_role")

_QUERY = """
select r.rolname, 'schema ' || n.nspname, has_schema_privilege(r.oid, n.oid, 'USAGE')
  from pg_roles r, pg_namespace n
 where r.rolname = any(%(roles)s) and n.nspname = %(schema)s
union all
select r.rolname, 'view ' || n.nspname || '.' || c.relname,
       has_table_privilege(r.oid, c.oid, 'SELECT')
  from pg_roles r, pg_class c join pg_namespace n on n.oid = c.relnamespace
 where r.rolname = any(%(roles)s) and n.nspname = %(schema)s and c.relkind in ('v', 'm', 'r')
union all
select r.rolname, 'function ' || p.oid::regprocedure::text,
       has_function_privilege(r.oid, p.oid, 'EXECUTE')
  from pg_roles r, pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where r.rolname = any(%(roles)s) and n.nspname = %(schema)s
"""


def api_readers(conn: Any, roles: Sequence[str] = API_ROLES) -> list[str]:
    """One line per (role, object of schema monitoring) the role may use; [] when none may."""
    rows = conn.execute(_QUERY, {"roles": list(roles), "schema": SCHEMA}).fetchall()
    return sorted(f"{role} may use {what}" for role, what, allowed in rows if allowed)


def kpi_objects(conn: Any) -> list[str]:
    """The objects the check looked at (so a check of nothing is seen as such)."""
    rows = conn.execute(_QUERY, {"roles": ["anon"], "schema": SCHEMA}).fetchall()
    return sorted(what for _, what, _ in rows)
