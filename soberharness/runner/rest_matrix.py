"""The access matrix through PostgREST over HTTP: a deterministic sample of cells, each sent as
supabase-js would send it, with the world put back after every write.

The sample (`sample_cells`): for every table and operation of the matrix, every actor, at both
privacy extremes (public and private owner; a case whose rules ignore privacy at its one
level), one case of that table and operation, rotated over the actors from a seeded offset so
that every case of a slice is met. An INSERT goes as `.insert()` or (seeded too) as
`.upsert(row, {onConflict: <key>, ignoreDuplicates: true})`, insert-if-absent as the app likes
a post (`Prefer: resolution=ignore-duplicates`); a merging upsert is an insert *or an update*
(PostgreSQL asks UPDATE on every column sent even for a new row), which no matrix case is;
a read of a comment, like, post or video embeds its parents (`select=*,posts(*),videos(*)`,
`*,profiles(*)`).

Each cell: the world the case needs is prepared as the SQL cell prepares it (same statements,
committed as the admin), the request goes out with the actor's token (anon and service: the
project's keys; a signed-in actor: the cell's claims signed with the target's JWT secret), and
when anything may have changed (a setup, an accepted write) the world's rows are written back
as the admin. A write to a row the world does not own (a bucket the stack made) is sent only
when `shared_writes` is allowed (a target that opted in to destructive work, or a scratch
database); otherwise the cell is listed as not sent, with the reason.

The judgement is `soberharness.checker.rest_matrix`; `sql_verdicts` runs the SQL cells of the
same sample for the comparison when no SQL matrix run is at hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from soberharness.checker.matrix import ExpectationCache
from soberharness.checker.matrix import allowed as sql_allowed
from soberharness.checker.rest_matrix import RestCellRecord, RestOutcome, RestRun, judge
from soberharness.clients.postgrest import PostgrestClient, RestResponse, filter_value
from soberharness.clients.postgrest_sql import RequestRunner
from soberharness.db import session as db_session
from soberharness.db import sql as rows
from soberharness.db.claims import claims_for, sign
from soberharness.db.seed import world_statements
from soberharness.records.results import Cell, Op
from soberharness.runner.matrix import plan, setup_statements
from soberharness.workload.matrix_cases import CASES, Action, Case, Ctx, cells
from soberharness.world.entities import (
    Bucket,
    Comment,
    Entity,
    Like,
    Post,
    Privacy,
    Role,
    User,
    Video,
    Viewer,
    World,
)
from soberharness.world.matrix_world import ACTORS, MatrixWorld

SAMPLE_PRIVACIES = (Privacy.PUBLIC, Privacy.PRIVATE)
# Parents embedded in a read, as an app reads a comment with its post: table -> embeds.
EMBEDS: dict[str, tuple[str, ...]] = {
    "comments": ("posts", "videos"),
    "likes": ("posts", "videos"),
    "posts": ("profiles",),
    "videos": ("profiles",),
}
WRITE_COUNT = "exact"  # supabase-js `{ count: 'exact' }`: how a caller learns what a write did
GUARDED_DELETES_SQL = """
select n.nspname || '.' || c.relname
from pg_catalog.pg_trigger t
join pg_catalog.pg_proc p on p.oid = t.tgfoid
join pg_catalog.pg_namespace pn on pn.oid = p.pronamespace
join pg_catalog.pg_class c on c.oid = t.tgrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where pn.nspname = 'storage' and p.proname = 'protect_delete' and not t.tgisinternal
  and t.tgenabled <> 'D' and (t.tgtype & 8) = 8
"""


@dataclasses.dataclass(frozen=True)
class RestKeys:
    """What callers present: the project's anon and service keys, and the JWT secret that signs
    a signed-in actor's token."""

    anon_key: str
    service_key: str
    jwt_secret: str

    @classmethod
    def minted(cls, jwt_secret: str) -> RestKeys:
        """Keys shaped like the stack's, signed with `jwt_secret` (for a target that has a
        secret and no keys: the local database behind the protocol double)."""
        now = int(time.time())
        def key(role: str) -> str:
            return sign({"iss": "supabase", "role": role, "iat": now, "exp": now + 86400},
                        jwt_secret)
        return cls(key("anon"), key("service_role"), jwt_secret)


@dataclasses.dataclass(frozen=True)
class RestCell:
    cell: Cell
    ctx: Ctx
    case: Case
    action: Action
    form: str  # select, insert, upsert, update, delete


@dataclasses.dataclass(frozen=True)
class RestCall:
    """One request, in supabase-js terms."""

    form: str
    schema: str
    table: str
    filters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    columns: str = "*"
    on_conflict: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        return {"select": "GET", "insert": "POST", "upsert": "POST", "update": "PATCH",
                "delete": "DELETE"}[self.form]

    def describe(self) -> str:
        params = [f"{c}={filter_value(v)}" for c, v in self.filters.items()]
        if self.form == "select":
            params.insert(0, f"select={self.columns}")
        if self.on_conflict:
            params.append(f"on_conflict={','.join(self.on_conflict)}")
        query = "?" + "&".join(params) if params else ""
        profile = "" if self.schema == "public" else f" ({self.schema})"
        return f"{self.method} /{self.table}{query}{profile}"


# -- the sample --------------------------------------------------------------------------------
def _seeded(seed: str, *parts: object) -> int:
    text = "/".join([seed, *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def sample_cells(mw: MatrixWorld, seed: str = "rest") -> list[RestCell]:
    """Every table x operation x actor at both privacy extremes, one case each (see module)."""
    indexed = {id(case): i for i, case in enumerate(CASES)}
    by_key: dict[tuple[int, Privacy, str], tuple[Cell, Ctx, Case]] = {}
    for cell, ctx, case in cells(mw):
        by_key[(indexed[id(case)], ctx.privacy, cell.actor)] = (cell, ctx, case)
    slices: dict[tuple[str, Op], list[int]] = {}
    for i, case in enumerate(CASES):
        slices.setdefault((case.table, case.op), []).append(i)
    out: list[RestCell] = []
    for (table, op), members in slices.items():
        offset = _seeded(seed, table, op.value)
        for pi, privacy in enumerate(SAMPLE_PRIVACIES):
            offered = [i for i in members if privacy in CASES[i].privacies]
            if not offered:
                continue
            for ai, actor in enumerate(ACTORS):
                ci = offered[(offset + ai + pi * len(ACTORS)) % len(offered)]
                cell, ctx, case = by_key[(ci, privacy, actor)]
                form = op.value
                if op is Op.INSERT and _seeded(seed, cell.label()) % 2:
                    form = "upsert"
                out.append(RestCell(cell, ctx, case, case.build(ctx), form))
    return out


# -- the request -------------------------------------------------------------------------------
def _json_value(column: str, value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if column == "metadata" and isinstance(value, str):
        return json.loads(value)  # a JSON object on the wire, as the Storage API writes it
    return value


def _body(values: Mapping[str, Any]) -> dict[str, Any]:
    return {c: _json_value(c, v) for c, v in values.items()}


def _key(row: rows.Row) -> dict[str, Any]:
    return {c: _json_value(c, row.values[c]) for c in row.key}


def rest_call(action: Action, form: str) -> RestCall:
    """The supabase-js request that does what the SQL cell of `action` does."""
    target = rows.row_of(action.target)
    base = {"schema": target.schema, "table": target.table}
    match action.op:
        case Op.SELECT:
            embeds = EMBEDS.get(target.table, ())
            columns = ",".join(["*", *(f"{e}(*)" for e in embeds)])
            return RestCall("select", filters=_key(target), columns=columns, **base)
        case Op.INSERT:
            conflict = target.key if form == "upsert" else ()
            return RestCall(form, body=_body(target.values), on_conflict=conflict, **base)
        case Op.UPDATE:
            assert action.after is not None
            after = rows.row_of(action.after)
            changed = {c: v for c, v in after.values.items() if target.values.get(c) != v}
            if not changed:  # as the SQL cell: a no-op update still sets one column
                column = next(c for c in after.values if c not in target.key)
                changed = {column: after.values[column]}
            return RestCall("update", filters=_key(target), body=_body(changed), **base)
        case Op.DELETE:
            return RestCall("delete", filters=_key(target), **base)
    raise ValueError(f"no HTTP form for {action.op}")


def send(client: PostgrestClient, call: RestCall) -> RestResponse:
    match call.form:
        case "select":
            return client.select(call.table, call.filters, call.columns, call.schema)
        case "insert":
            return client.insert(call.table, call.body or {}, call.schema, WRITE_COUNT)
        case "upsert":
            return client.upsert(call.table, call.body or {}, call.on_conflict,
                                 ignore_duplicates=True, schema=call.schema, count=WRITE_COUNT)
        case "update":
            return client.update(call.table, call.body or {}, call.filters, call.schema,
                                 WRITE_COUNT)
        case "delete":
            return client.delete(call.table, call.filters, call.schema, WRITE_COUNT)
    raise ValueError(f"unknown request form {call.form!r}")


def outcome_of(call: RestCall, response: RestResponse) -> RestOutcome:
    error = response.error
    body_rows = None
    if call.form == "select" and response.rows is not None:
        body_rows = tuple(r for r in response.rows if isinstance(r, dict))
    return RestOutcome(response.status, call.form, body_rows, response.count,
                       str(error) if error else None)


class Callers:
    """A PostgrestClient per cell's token: the keys for anon and service, the cell's own claims
    signed with the secret for a signed-in actor."""

    def __init__(self, api: PostgrestClient, keys: RestKeys) -> None:
        self.api = api
        self.keys = keys

    def token(self, ctx: Ctx) -> str:
        viewer = ctx.viewer
        if viewer.role is Role.ANON:
            return self.keys.anon_key
        if viewer.role is Role.SERVICE:
            return self.keys.service_key
        claims = ctx.claims() or claims_for(viewer)
        return sign(claims, self.keys.jwt_secret)

    def of(self, ctx: Ctx) -> PostgrestClient:
        return self.api.as_token(self.token(ctx))

    def user(self, viewer: Viewer, email: str | None = None) -> PostgrestClient:
        return self.api.as_token(sign(claims_for(viewer, email), self.keys.jwt_secret))


# -- what each cell expects --------------------------------------------------------------------
def embedded_parents(entity: Entity, world: World) -> dict[str, Entity | None]:
    """The rows a read of `entity` embeds (EMBEDS), as world entities (None: no parent)."""
    match entity:
        case Comment() | Like():
            ref = entity.parent
            return {
                "posts": world.posts.get(ref.id) if ref.kind == "post" else None,
                "videos": world.videos.get(ref.id) if ref.kind == "video" else None,
            }
        case Post():
            return {"profiles": world.users.get(entity.author)}
        case Video():
            return {"profiles": world.users.get(entity.owner)}
    return {}


def guarded_deletes(conn: psycopg.Connection) -> dict[str, str]:
    """Tables whose DELETE the Storage API's protect_delete trigger refuses outside the API."""
    found = conn.execute(GUARDED_DELETES_SQL).fetchall()
    return {
        name: "storage.protect_delete refuses a DELETE unless the transaction sets "
        "storage.allow_delete_query, which only the Storage API does"
        for (name,) in found
    }


def _shared_write(action: Action) -> bool:
    """A write to a row the matrix world does not own (a bucket the stack made)."""
    return action.op is not Op.SELECT and isinstance(action.target, Bucket) and (
        action.op is not Op.INSERT)


# -- putting the world back --------------------------------------------------------------------
def restore_statements(world: World, action: Action) -> list[sql.Composable]:
    """Everything a cell may have changed, undone: rows the request made, then the world's own
    rows removed (users cascade; objects by id) and written again."""
    out: list[sql.Composable] = [
        sql.SQL("SELECT set_config('storage.allow_delete_query', 'true', true)")
    ]
    made = action.target if action.op is Op.INSERT else action.after
    if action.op is Op.UPDATE and isinstance(action.target, Bucket):
        assert action.after is not None
        out.append(rows.update(rows.row_of(action.after), rows.row_of(action.target)))
    elif made is not None and not isinstance(made, User):
        out.append(rows.delete(rows.row_of(made)))
    objects = [o.id for o in world.objects.values()]
    users = list(world.users)
    out.append(sql.SQL("DELETE FROM storage.objects WHERE id = ANY({})").format(
        sql.Literal(objects)))
    out.append(sql.SQL("DELETE FROM auth.users WHERE id = ANY({})").format(sql.Literal(users)))
    out += world_statements(world)
    return out


def _run_statements(conn: psycopg.Connection, statements: Sequence[sql.Composable]) -> None:
    with conn.transaction():
        conn.execute(sql.SQL(";\n").join(statements).as_bytes(conn))


def _changed(call: RestCall, response: RestResponse) -> bool:
    if call.form == "select" or not response.ok:
        return False
    return response.count is None or response.count > 0 or call.form in ("insert", "upsert")


# -- the run -----------------------------------------------------------------------------------
Progress = Callable[[int, int], None]


def run_rest_matrix(
    mw: MatrixWorld,
    callers: Callers,
    admin: psycopg.Connection,
    sample: Sequence[RestCell],
    sql_cells: Mapping[Cell, bool] | None = None,
    shared_writes: bool = False,
    progress: Progress | None = None,
) -> RestRun:
    """Send each sampled cell, put the world back after it, and judge. `admin` is an autocommit
    connection to the database the PostgREST serves, which holds `mw.world`; `sql_cells` the
    SQL matrix's verdicts (see `sql_verdicts`)."""
    if not admin.autocommit:
        raise ValueError("run_rest_matrix needs an autocommit admin connection")
    started = time.perf_counter()
    cache = ExpectationCache(mw.world)
    guarded = guarded_deletes(admin)
    records: list[RestCellRecord] = []
    not_sent: dict[str, str] = {}
    for n, rc in enumerate(sample, 1):
        if _shared_write(rc.action) and not shared_writes:
            not_sent[rc.cell.label()] = ("writes a row the stack made (a bucket): sent only "
                                         "on a target that opted in to destructive work")
            continue
        records.append(_one(mw, callers, admin, rc, cache, guarded, sql_cells))
        if progress is not None:
            progress(n, len(sample))
    return judge(records, time.perf_counter() - started, not_sent)


def _one(
    mw: MatrixWorld, callers: Callers, admin: psycopg.Connection, rc: RestCell,
    cache: ExpectationCache, guarded: Mapping[str, str], sql_cells: Mapping[Cell, bool] | None,
) -> RestCellRecord:
    action = rc.action
    call = rest_call(action, rc.form)
    setup = setup_statements(action)
    if setup:
        _run_statements(admin, setup)
    try:
        response = send(callers.of(rc.ctx), call)
    finally:
        if setup:
            _run_statements(admin, restore_statements(mw.world, action))
    if _changed(call, response):
        _run_statements(admin, restore_statements(mw.world, action))
    model = cache.model(action)
    embeds = {
        name: parent is not None and model.can_read(rc.ctx.viewer, parent)
        for name, parent in embedded_parents(action.target, mw.world).items()
    } if call.form == "select" else {}
    target = rows.row_of(action.target)
    refusal = guarded.get(f"{target.schema}.{target.table}") if call.form == "delete" else None
    return RestCellRecord(
        rc.cell, call.describe(), {c: str(target.values[c]) for c in target.key},
        cache.expected(rc.ctx, action), outcome_of(call, response),
        sql_cells.get(rc.cell) if sql_cells is not None else None, embeds, refusal,
    )


def sql_verdicts(dsn: str, mw: MatrixWorld, sample: Iterable[RestCell]) -> dict[Cell, bool]:
    """The SQL matrix's verdicts (`checker.matrix`) for the sampled cells, run here."""
    wanted = {rc.cell for rc in sample}
    planned = [p for p in plan(mw, {c.table for c in wanted}) if p.cell in wanted]
    out: dict[Cell, bool] = {}
    with db_session.connect(dsn, autocommit=True) as conn:
        runner = RequestRunner(conn)
        for p in planned:
            out[p.cell] = sql_allowed(p.op, runner.execute(p.text, p.setup_statements))
    return out
