"""The Storage API's own objects on a target, judged by the registry of its schema versions
(soberharness.access.storage_api_schema).

`known_storage_api(conn)` reads which storage schema the target has (the highest migration in
`storage.migrations`, or this project's bootstrap copy when the ledger is empty), takes the
registry's objects for that version, and verifies the condition each treatment rests on:

- an `internal` table has row level security on and no policy (or no API-role privilege at all);
- a `declared` or `modelled` function runs as the invoker;
- the API roles cannot create objects in the schemas on the Storage API's search path, so a
  function without a fixed search_path can only be redirected to what its caller may use.

`KnownStorageApi.accept(findings)` then accepts, with the registry's reason, only these findings
on objects whose condition holds: `rls_enabled_no_policy` on an internal table,
`function_search_path_mutable` and `unmodelled_exposed_surface` on a Storage API function. Every
other finding, and every finding on an object the registry does not list for the version seen
(a planted table, function or policy), stays as it was. A condition that does not hold is a
finding of its own (`storage_api_object`), and a schema version the registry does not know is
named in `problems` so the run says why more is unknown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from soberharness.access import storage_api_schema as registry
from soberharness.access.storage_api_schema import ApiObject, SchemaVersion, Treatment
from soberharness.lints.base import rows
from soberharness.records.results import UNMODELLED_RULE, LintFinding, Severity

RULE = "storage_api_object"
API_ROLES = ("anon", "authenticated")
# The Storage API connects with search_path storage, public, extensions.
API_SEARCH_PATH = ("storage", "public", "extensions")
NO_POLICY_RULE = "rls_enabled_no_policy"
SEARCH_PATH_RULE = "function_search_path_mutable"


@dataclasses.dataclass(frozen=True)
class SeenSchema:
    """The storage schema a run saw."""

    origin: str  # "storage-api" (its ledger has rows) or "bootstrap"
    migration: int | None  # highest migration id in storage.migrations
    name: str | None  # its name
    registry_version: SchemaVersion  # the registry version the objects are judged by

    @property
    def label(self) -> str:
        if self.origin == "bootstrap":
            v = self.registry_version
            return (f"bootstrap copy (stack/bootstrap/20_storage.sql), empty ledger, judged as "
                    f"Storage API migration {v.migration} {v.name} ({v.first_tag} and later)")
        v = registry.version(self.migration or -1)
        if v is not None and v.name == self.name:
            return f"Storage API migration {v.migration} {v.name} ({v.first_tag} and later)"
        return f"Storage API migration {self.migration} {self.name} (not in the registry)"

    def as_note(self) -> dict[str, Any]:
        return {"version": self.label, "migration": self.migration, "name": self.name,
                "judged_as": self.registry_version.migration}


def seen_schema(conn: psycopg.Connection) -> SeenSchema:
    has_ledger = rows(conn, "select to_regclass('storage.migrations') is not null", {})[0][0]
    last = rows(conn, "select id, name from storage.migrations order by id desc limit 1",
                {}) if has_ledger else []
    if not last:
        return SeenSchema("bootstrap", None, None, registry.BOOTSTRAP_VERSION)
    migration, name = int(last[0][0]), str(last[0][1])
    below = [v for v in registry.VERSIONS if v.migration <= migration]
    return SeenSchema("storage-api", migration, name, below[-1] if below else registry.OLDEST)


# -- catalog facts -----------------------------------------------------------------------------
_TABLES = """
select 'storage.' || c.relname, c.relrowsecurity,
       array(select p.polname::text from pg_catalog.pg_policy p where p.polrelid = c.oid
             order by 1),
       array(select r || ' ' || priv from unnest(%(roles)s::text[]) r,
                    unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES',
                                 'TRIGGER']) priv
             where pg_catalog.has_table_privilege(r, c.oid, priv)
             order by 1)
from pg_catalog.pg_class c
where c.relnamespace = 'storage'::regnamespace and c.relkind in ('r', 'p')
"""
_FUNCTIONS = """
select 'storage.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid)
       || ')', p.prosecdef
from pg_catalog.pg_proc p
where p.pronamespace = 'storage'::regnamespace
"""
_CREATORS = """
select r || ' on ' || s from unnest(%(roles)s::text[]) r, unnest(%(schemas)s::text[]) s
where exists (select 1 from pg_catalog.pg_namespace where nspname = s)
  and pg_catalog.has_schema_privilege(r, s, 'CREATE')
order by 1
"""


def _internal_problem(rls: bool, policies: list[str], privileges: list[str]) -> str | None:
    """Why a table the registry calls internal is reachable, or None when it is not."""
    if not privileges:
        return None
    if not rls:
        return f"row level security is off and {', '.join(privileges)} held"
    if policies:
        return f"policies {', '.join(policies)} let API roles reach its rows"
    wider = [p for p in privileges if not p.endswith(" SELECT")]
    return f"{', '.join(wider)} held" if wider else None


@dataclasses.dataclass(frozen=True)
class KnownStorageApi:
    seen: SeenSchema
    objects: dict[str, ApiObject]  # the registry's objects present in the schema
    internal: frozenset[str]  # internal tables whose condition holds
    invoker: frozenset[str]  # registry functions that run as the invoker
    path_safe: bool  # API roles cannot create objects on the Storage API's search path
    problems: tuple[LintFinding, ...]

    def declared_columns(self) -> dict[str, str]:
        """`storage.table.column` -> reason, for columns the registry declares."""
        return {name: self._reason(o) for name, o in self.objects.items()
                if o.kind == "column" and o.treatment is Treatment.DECLARED}

    def _reason(self, obj: ApiObject) -> str:
        return f"{self.seen.label}, {obj.treatment.value} (migration {obj.since}): {obj.reason}"

    def acceptance(self, finding: LintFinding) -> str | None:
        obj = self.objects.get(finding.object)
        if obj is None:
            return None
        if finding.rule == NO_POLICY_RULE and finding.object in self.internal:
            return self._reason(obj)
        if obj.kind != "function" or finding.object not in self.invoker:
            return None
        if finding.rule == SEARCH_PATH_RULE and self.path_safe:
            return (self._reason(obj) + "; it runs as the invoker and no API role may create "
                    "objects on the Storage API's search path (storage, public, extensions)")
        if finding.rule == UNMODELLED_RULE and obj.treatment is Treatment.DECLARED:
            return self._reason(obj)
        return None

    def accept(self, findings: Iterable[LintFinding]) -> list[LintFinding]:
        """`findings` with `declared` set where the registry accepts one."""
        out = []
        for f in findings:
            reason = None if f.declared else self.acceptance(f)
            out.append(dataclasses.replace(f, declared=reason) if reason else f)
        return out

    def note(self) -> dict[str, Any]:
        return {**self.seen.as_note(), "internal_tables": sorted(self.internal),
                "registry_objects": len(self.objects)}


def known_storage_api(conn: psycopg.Connection,
                      roles: Sequence[str] = API_ROLES) -> KnownStorageApi:
    seen = seen_schema(conn)
    listed = registry.known_at(seen.registry_version.migration)
    tables = {name: (rls, list(pol), list(priv))
              for name, rls, pol, priv in rows(conn, _TABLES, {"roles": list(roles)})}
    functions = {name: definer for name, definer in rows(conn, _FUNCTIONS, {})}
    columns = {f"{t}.{c}" for t, c in rows(
        conn, "select 'storage.' || c.relname, a.attname::text from pg_catalog.pg_attribute a "
              "join pg_catalog.pg_class c on c.oid = a.attrelid "
              "where c.relnamespace = 'storage'::regnamespace and a.attnum > 0 "
              "and not a.attisdropped", {})}
    present = {n: o for n, o in listed.items()
               if n in tables or n in functions or n in columns}
    problems: list[LintFinding] = []
    internal: set[str] = set()
    for name, obj in present.items():
        if obj.kind == "table" and obj.treatment is Treatment.INTERNAL:
            why = _internal_problem(*tables[name])
            if why is None:
                internal.add(name)
            else:
                problems.append(LintFinding(
                    RULE, Severity.ERROR, name,
                    f"{name} is internal to the Storage API (migration {obj.since}: no API role "
                    f"reaches a row) but {why}: the access model has no rule for its rows"))
    invoker = {n for n, o in present.items() if o.kind == "function" and not functions[n]}
    for name in sorted(n for n, o in present.items() if o.kind == "function" and functions[n]):
        problems.append(LintFinding(
            RULE, Severity.ERROR, name,
            f"{name} is SECURITY DEFINER; the Storage API (migration {present[name].since}) "
            "creates it to run as the invoker"))
    creators = [r for (r,) in rows(conn, _CREATORS,
                                   {"roles": list(roles), "schemas": list(API_SEARCH_PATH)})]
    for creator in creators:
        problems.append(LintFinding(
            RULE, Severity.ERROR, creator.split(" on ")[1],
            f"{creator.split(' on ')[0]} may create objects in {creator.split(' on ')[1]}, on "
            "the Storage API's search path: its functions without a fixed search_path could "
            "be redirected"))
    return KnownStorageApi(seen, present, frozenset(internal), frozenset(invoker),
                           not creators, tuple(problems))
