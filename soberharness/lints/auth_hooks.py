"""Functions the auth service calls, followed by the `user_metadata` lint.

GoTrue calls a Postgres hook named by its settings (`GOTRUE_HOOK_<NAME>_URI =
pg-functions://<database>/<schema>/<function>`, e.g. the custom access token hook) as
`supabase_auth_admin`, so a project grants such a function EXECUTE to that role. No API role
calls it, yet what it returns is what GoTrue signs: a hook reading `user_metadata` (which the
user writes) into a claim lets the user mint their own privileges. The walk starts at every
function a hook setting names and every function granted EXECUTE to `supabase_auth_admin`
outside GoTrue's own `auth` schema, and follows the functions they call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import psycopg

from soberharness.lints.base import rows, user_functions
from soberharness.records.results import LintFinding, Severity

AUTH_ROLE = "supabase_auth_admin"
_HOOK_SETTING = re.compile(r"^GOTRUE_HOOK_[A-Z_]+_URI$")
_PG_FUNCTION = re.compile(r"^pg-functions://[^/]+/([^/]+)/([^/]+)$")


def hook_functions(settings: Mapping[str, str]) -> dict[str, str]:
    """`schema.function` -> the setting naming it, for every Postgres-function hook set."""
    found: dict[str, str] = {}
    for name, value in sorted(settings.items()):
        match = _PG_FUNCTION.match(value.strip()) if _HOOK_SETTING.match(name) else None
        if match:
            found[f"{match.group(1)}.{match.group(2)}"] = name
    return found


_GRANTED_TO_AUTH = """exists (select 1 from pg_catalog.aclexplode(f.proacl) a
                   where a.grantee = pg_catalog.to_regrole(%(auth_role)s)
                     and a.grantee <> f.proowner and a.privilege_type = 'EXECUTE') as granted"""
_FN = user_functions("n.nspname || '.' || f.proname as qualified",
                     "n.nspname::text as schema", _GRANTED_TO_AUTH)

_QUERY = rf"""
with recursive fn as ({_FN}
),
root as (
    select oid, qualified from fn
    where qualified = any(%(hooks)s) or (granted and schema <> 'auth')
),
reached(root_oid, fn_oid) as (
    select oid, oid from root
    union
    select r.root_oid, callee.oid
    from reached r
    join fn caller on caller.oid = r.fn_oid
    join fn callee on caller.body ~ ('\m' || callee.short || '\s*\(')
)
select root_fn.name, root.qualified, fn.name
from reached r
join root on root.oid = r.root_oid
join fn root_fn on root_fn.oid = r.root_oid
join fn on fn.oid = r.fn_oid
where fn.body ~* %(pattern)s
order by 1, 3
"""


def hooks_use_user_metadata(conn: psycopg.Connection, hooks: Mapping[str, str],
                            pattern: str) -> list[LintFinding]:
    """A `policy_uses_user_metadata` finding per function the auth service reaches that
    decides on user_metadata, named by the function that reads it."""
    found = rows(conn, _QUERY, {"auth_role": AUTH_ROLE, "hooks": list(hooks),
                                "pattern": pattern})
    findings: list[LintFinding] = []
    for root, qualified, function in found:
        how = (f"the auth hook {hooks[qualified]}" if qualified in hooks
               else f"granted to {AUTH_ROLE}")
        via = "" if function == root else f", called by {root}"
        findings.append(LintFinding(
            "policy_uses_user_metadata", Severity.ERROR, function,
            f"function {function}{via} ({how}, run by GoTrue when it mints a token) decides "
            "on user_metadata (a user writes their own user_metadata; use app_metadata)",
        ))
    return findings
