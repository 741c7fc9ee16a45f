"""Every function and view the API roles can reach, called and read as every actor, judged.

Discovery (soberharness.lints.exposed_catalog): every function `anon` or `authenticated` may
EXECUTE (not trigger functions, not extension members) and every view and materialized view they
may SELECT, in the exposed schemas (PostgREST's `db_schemas`: public, storage, graphql_public by
default).

Calls (soberharness.workload.exposed_calls): each function with arguments drawn from the surface
world (ids, handles and search terms of hidden, private, blocked and other users' content), as
every actor, each call as PostgREST makes it (role, claims, request settings) in a savepoint of
one transaction that holds the world and is rolled back at the end; each view read as every
actor the same way.

Judgement: a returned row of a table the access model knows (a function returning `setof
public.posts`, a view exposing the key columns of exactly one modelled table it reads, the
Storage API's listings `storage.search`, `search_v2`, ...) must be one the model lets that actor
read; rows that are not the world's (a shared database) are not judged. Only what is returned is
judged: a row the function leaves out is not a leak. Whatever the model cannot judge is
*unmodelled exposed surface*, a warning the stack may accept in its declaration file with a
reason (the Storage API's own functions: its registry, soberharness.lints.storage_api_objects).

Seeing through layers is the lint `definer_behind_invoker` (soberharness.lints.definer_chains);
the calls here are what proves or clears such a chain.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from soberharness.access.model import AccessModel, Key
from soberharness.checker.visibility import world_keys
from soberharness.clients.postgrest_sql import request_settings
from soberharness.db.seed import world_statements
from soberharness.db.sql import MODEL_TABLES
from soberharness.lints.exposed_catalog import ExposedObject, discover
from soberharness.records.results import UNMODELLED_RULE, LintFinding, Severity
from soberharness.workload.exposed_calls import (
    Call,
    WorldTerms,
    call_query,
    calls_for,
    view_query,
)
from soberharness.world.entities import StoredObject, Viewer, World
from soberharness.world.surface_world import SurfaceWorld

LEAK_RULE = "exposed_surface_leak"
NOT_EXERCISED_RULE = "exposed_surface_not_exercised"
RULES = (LEAK_RULE, UNMODELLED_RULE, NOT_EXERCISED_RULE)
STATEMENT_TIMEOUT = "5s"

# -- judging returned rows ---------------------------------------------------------------------
@dataclasses.dataclass
class Context:
    world: World
    model: AccessModel
    ours: dict[str, set[Key]]  # the world's keys per model table
    _visible: dict[Viewer, dict[str, set[Key]]] = dataclasses.field(default_factory=dict)

    def visible(self, viewer: Viewer) -> dict[str, set[Key]]:
        if viewer not in self._visible:
            self._visible[viewer] = self.model.visible(viewer)
        return self._visible[viewer]


# A judge gets one returned row (JSON), the call's arguments and the viewer; it returns the
# (model table, key) of a row the model hides from that viewer, or None.
Judge = Callable[[Any, dict[str, Any], Viewer, Context], tuple[str, Key] | None]


def _key(row: dict[str, Any], columns: tuple[str, ...]) -> Key | None:
    try:
        values = [uuid.UUID(str(row[c])) for c in columns]
    except (KeyError, ValueError, TypeError):
        return None
    return values[0] if len(values) == 1 else (values[0], values[1])


def rows_of(table: str) -> Judge:
    """Rows carrying the key of a modelled table (`public.posts` and the like)."""
    model_table, columns = MODEL_TABLES[table]

    def judge(row: Any, args: dict[str, Any], viewer: Viewer, ctx: Context):
        if not isinstance(row, dict):
            return None
        key = _key(row, columns)
        if key is None or key not in ctx.ours[model_table]:
            return None  # not a row of our world
        if key in ctx.visible(viewer)[model_table]:
            return None
        return model_table, key

    return judge


def storage_search(row: Any, args: dict[str, Any], viewer: Viewer, ctx: Context):
    """storage.search: files are objects; a folder entry (no id) must be a path element, at
    the listed level, of an object of the bucket the viewer may read."""
    if not isinstance(row, dict):
        return None
    if row.get("id") is not None:
        return rows_of("storage.objects")(row, args, viewer, ctx)
    level = int(args.get("levels", 1))
    bucket = args.get("bucketname")
    folder = row.get("name")
    objects = [o for o in ctx.world.objects.values()
               if o.bucket == bucket and _token(o, level) == folder]
    if not objects:
        return None  # names no object of our world
    visible = ctx.visible(viewer)["objects"]
    if any(o.id in visible for o in objects):
        return None
    return "objects", objects[0].id


def _token(obj: StoredObject, level: int) -> str | None:
    parts = obj.name.split("/")
    return parts[level - 1] if len(parts) > level else None


def _arg(args: dict[str, Any], part: str) -> Any:
    return next((v for k, v in args.items() if part in k), None)


def storage_listing(row: Any, args: dict[str, Any], viewer: Viewer, ctx: Context):
    """The Storage API's other listings (search_v2, search_by_timestamp,
    list_objects_with_delimiter): a row with an id is an object; a folder entry (no id) names a
    path, in full (`key`, or `name` with the delimiter) or relative to the call's prefix, and
    must lead to an object of the listed bucket the viewer may read."""
    if not isinstance(row, dict):
        return None
    if row.get("id") is not None:
        return rows_of("storage.objects")(row, args, viewer, ctx)
    bucket = _arg(args, "bucket")
    prefix = str(_arg(args, "prefix") or "")
    named = [row.get("key"), row.get("name")]
    paths = {str(p).rstrip("/") for p in named if p}
    paths |= {(prefix + str(p)).rstrip("/") for p in named if p}
    objects = [o for o in ctx.world.objects.values()
               if (bucket is None or o.bucket == bucket)
               and any(p and o.name.startswith(p + "/") for p in paths)]
    if not objects:
        return None  # names no object of our world
    visible = ctx.visible(viewer)["objects"]
    if any(o.id in visible for o in objects):
        return None
    return "objects", objects[0].id


# Functions of Supabase's own services the harness knows how to judge (by schema.name); the
# Storage API's registry (soberharness.access.storage_api_schema) calls these `modelled`.
KNOWN_FUNCTIONS: dict[str, Judge] = {
    "storage.search": storage_search,
    "storage.search_v2": storage_listing,
    "storage.search_by_timestamp": storage_listing,
    "storage.list_objects_with_delimiter": storage_listing,
}


def judge_for(obj: ExposedObject) -> Judge | None:
    if obj.kind == "function":
        if obj.returns_table in MODEL_TABLES:
            return rows_of(obj.returns_table)
        return KNOWN_FUNCTIONS.get(f"{obj.schema}.{obj.name}")
    keyed = [t for t in obj.reads if t in MODEL_TABLES
             and set(MODEL_TABLES[t][1]) <= set(obj.columns)]
    return rows_of(keyed[0]) if len(keyed) == 1 else None


# -- the run -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Leak:
    object: str
    actor: str
    call: str  # the arguments, or "" for a view
    table: str  # model table
    key: Key


@dataclasses.dataclass
class SurfaceRun:
    objects: list[ExposedObject]
    unmodelled: list[ExposedObject] = dataclasses.field(default_factory=list)
    leaks: list[Leak] = dataclasses.field(default_factory=list)
    calls: int = 0
    failed_calls: int = 0
    rows_judged: int = 0
    answered: dict[str, int] = dataclasses.field(default_factory=dict)  # label -> calls that ran
    first_error: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def functions(self) -> list[ExposedObject]:
        return [o for o in self.objects if o.kind == "function"]

    @property
    def views(self) -> list[ExposedObject]:
        return [o for o in self.objects if o.kind != "function"]

    def summary(self) -> dict[str, Any]:
        return {
            "functions": [o.label for o in self.functions],
            "views": [o.label for o in self.views],
            "unmodelled": [o.label for o in self.unmodelled],
            "calls": self.calls,
            "failed_calls": self.failed_calls,
            "rows_judged": self.rows_judged,
            "leaks": len(self.leaks),
        }

    def findings(self) -> list[LintFinding]:
        out: list[LintFinding] = []
        by_object: dict[str, list[Leak]] = {}
        for leak in self.leaks:
            by_object.setdefault(leak.object, []).append(leak)
        for label, leaks in sorted(by_object.items()):
            actors = sorted({lk.actor for lk in leaks})
            examples = "; ".join(
                f"{lk.actor}{f' ({lk.call})' if lk.call else ''} got {lk.table} {_show(lk.key)}"
                for lk in leaks[:3]
            )
            out.append(LintFinding(
                LEAK_RULE, Severity.ERROR, label,
                f"{label} returned {len(leaks)} row(s) the access model hides from "
                f"{', '.join(actors)}: {examples}",
            ))
        for obj in self.unmodelled:
            what = f"returns {obj.returns}" if obj.kind == "function" else "reads " + (
                ", ".join(obj.reads) or "no table")
            out.append(LintFinding(
                UNMODELLED_RULE, Severity.WARN, obj.label,
                f"{obj.kind} {obj.label} is exposed to {' and '.join(obj.roles)} and the access "
                f"model cannot judge it ({what}): declare it with a reason, or return rows of a "
                "modelled table",
            ))
        for obj in self.objects:
            if obj not in self.unmodelled and not self.answered.get(obj.label):
                out.append(LintFinding(
                    NOT_EXERCISED_RULE, Severity.WARN, obj.label,
                    f"every call of {obj.label} failed, so nothing it returns was judged: "
                    f"{self.first_error.get(obj.label, 'no call made')}",
                ))
        return out


def _show(key: Key) -> str:
    return f"({key[0]}, {key[1]})" if isinstance(key, tuple) else str(key)


def check_exposed_surface(
    conn: psycopg.Connection, surface: SurfaceWorld, exposed_schemas: Sequence[str]
) -> SurfaceRun:
    """Discover, call and judge, in one transaction that is rolled back."""
    if conn.autocommit:
        raise ValueError("check_exposed_surface needs a connection outside autocommit")
    world = surface.world
    model = AccessModel(world)
    ctx = Context(world, model, world_keys(world))
    terms = WorldTerms.of(world)
    try:
        run = SurfaceRun(discover(conn, exposed_schemas))
        conn.execute(sql.SQL(";\n").join(world_statements(world)).as_bytes(conn))
        conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'".encode())
        for obj in run.objects:
            judge = judge_for(obj)
            if judge is None:
                run.unmodelled.append(obj)
                continue
            _exercise(conn, run, obj, judge, surface, ctx, terms)
    finally:
        conn.rollback()
    return run


def _exercise(
    conn: psycopg.Connection, run: SurfaceRun, obj: ExposedObject, judge: Judge,
    surface: SurfaceWorld, ctx: Context, terms: WorldTerms,
) -> None:
    if obj.kind == "function":
        calls: list[Call | None] = list(calls_for(obj.params, terms))
        method = "POST" if obj.volatile else "GET"
        path = f"/rest/v1/rpc/{obj.name}"
    else:
        calls, method, path = [None], "GET", f"/rest/v1/{obj.name}"
    for label, viewer in surface.viewers.items():
        queries = [
            view_query(obj.schema, obj.name) if call is None
            else call_query(obj.schema, obj.name, call)
            for call in calls
        ]
        answers = _requests(conn, run, obj, viewer, method, path, queries)
        for call, returned in zip(calls, answers, strict=True):
            if returned is None:
                continue
            run.rows_judged += len(returned)
            args = call.as_dict() if call else {}
            for row in returned:
                hidden = judge(row, args, viewer, ctx)
                if hidden:
                    run.leaks.append(Leak(obj.label, label, call.describe() if call else "",
                                          *hidden))


def _request_text(
    conn: psycopg.Connection, viewer: Viewer, method: str, path: str,
    queries: Sequence[sql.Composable],
) -> bytes:
    parts: list[sql.Composable] = []
    for query in queries:
        parts += [
            sql.SQL("SAVEPOINT exposed_call"),
            request_settings(viewer, method, path),
            query,
            sql.SQL("ROLLBACK TO SAVEPOINT exposed_call"),
        ]
    return sql.SQL(";\n").join(parts).as_bytes(conn)


def _requests(
    conn: psycopg.Connection, run: SurfaceRun, obj: ExposedObject, viewer: Viewer,
    method: str, path: str, queries: Sequence[sql.Composable],
) -> list[list[Any] | None]:
    """Each query as its own request (a savepoint), all in one round trip; when one fails,
    again one by one, so that each failure is that call's alone."""
    run.calls += len(queries)
    cur = conn.cursor()
    try:
        cur.execute(_request_text(conn, viewer, method, path, queries))
    except psycopg.Error:
        conn.execute(b"ROLLBACK TO SAVEPOINT exposed_call")
        return [_one(conn, run, obj, viewer, method, path, q) for q in queries]
    answers: list[list[Any] | None] = []
    for i in range(len(queries)):
        if i:
            cur.nextset()
        cur.nextset()
        cur.nextset()
        answers.append(_decode(cur.fetchall()))
        cur.nextset()
    run.answered[obj.label] = run.answered.get(obj.label, 0) + len(queries)
    return answers


def _one(
    conn: psycopg.Connection, run: SurfaceRun, obj: ExposedObject, viewer: Viewer,
    method: str, path: str, query: sql.Composable,
) -> list[Any] | None:
    cur = conn.cursor()
    try:
        cur.execute(_request_text(conn, viewer, method, path, [query]))
    except psycopg.Error as exc:
        conn.execute(b"ROLLBACK TO SAVEPOINT exposed_call")
        run.failed_calls += 1
        message = (exc.diag.message_primary or str(exc)).strip()
        run.first_error.setdefault(obj.label, f"{exc.sqlstate}: {message}")
        return None
    cur.nextset()
    cur.nextset()
    run.answered[obj.label] = run.answered.get(obj.label, 0) + 1
    return _decode(cur.fetchall())


def _decode(returned: list[tuple[Any, ...]]) -> list[Any]:
    return [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in returned]
