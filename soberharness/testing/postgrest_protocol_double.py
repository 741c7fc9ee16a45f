"""`PostgrestProtocolDouble`: a test double of PostgREST's HTTP protocol, as an httpx transport.

Only for the harness's own tests of its PostgREST client and REST matrix runner (selftests);
never a target's service. It serves the subset of the protocol the client uses by running SQL
the way PostgREST does, against a real database (the local target's), written here on its own
(not with the harness's SQL-matrix code):

- the gateway's `apikey` header is required (401 without it, as Kong answers);
- `Authorization: Bearer <jwt>`: HS256 with the target's secret, `exp` checked; the `role` claim
  is the role (none: `anon`); a bad token is 401 `PGRST301`;
- the schema is `Accept-Profile` (GET/HEAD) or `Content-Profile`, else the first exposed one;
  another is 406 `PGRST106`;
- each request is one transaction on a connection logged in as `authenticator` (READ ONLY for
  GET/HEAD): `set_config` of `search_path`, `role`, `request.jwt.claims`, `request.method`,
  `request.path`, `request.headers`, `request.cookies` (all transaction-local), then the query;
- `GET /<table>?select=*,parent(*)&col=eq.v|is.null`: rows as a JSON array, a to-one parent
  embedded through the table's foreign key (null when RLS hides it);
- `POST /<table>` (a JSON object; `Prefer: resolution=merge-duplicates|ignore-duplicates` with
  `on_conflict`), `PATCH` and `DELETE` with filters: 201/200/204 (the rows as JSON with
  `Prefer: return=representation`), and
  `Content-Range: */N` (`0-0/1` for a PATCH) with `Prefer: count=exact`;
- errors as `{code, message, details, hint}` with PostgREST's status for the SQLSTATE;
- `GET /`: a Swagger 2.0 description of the schema as the caller's role sees it (tables and
  views it holds any privilege on, functions it may execute as `/rpc/<name>`).

Planted divergences for the harness's tests (`Faults`): drop the filters of a table's reads.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BASE_URL = "http://postgrest.double/rest/v1"
SCHEMAS = ("public", "storage", "graphql_public")
STATEMENT_TIMEOUT = "8s"
_EMBED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(\*\)$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# SQLSTATE (or its class) -> HTTP status, as PostgREST maps them (42501 handled apart).
_STATUS = {"23503": 409, "23505": 409, "25006": 405, "P0001": 400, "42883": 404, "42P01": 404,
           "42703": 400, "22": 400, "23": 400, "40": 500, "53": 503, "57": 500, "08": 503}


@dataclasses.dataclass
class Faults:
    """Defects to plant: tables whose GET filters are ignored (every visible row comes back)."""

    ignore_filters: set[str] = dataclasses.field(default_factory=set)


class DoubleError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _status_for(sqlstate: str, role: str) -> int:
    if sqlstate == "42501":
        return 401 if role == "anon" else 403
    return _STATUS.get(sqlstate, _STATUS.get(sqlstate[:2], 400))


class PostgrestProtocolDouble(httpx.BaseTransport):
    """Serves `BASE_URL` (give it as the client's URL and this as its transport)."""

    def __init__(
        self,
        dsn: str,
        jwt_secret: str,
        schemas: Sequence[str] = SCHEMAS,
        faults: Faults | None = None,
        login: str = "authenticator",
    ) -> None:
        self.secret = jwt_secret
        self.schemas = tuple(schemas)
        self.faults = faults or Faults()
        params = conninfo_to_dict(dsn)
        params["user"] = login
        params.pop("password", None)
        self.conn = psycopg.connect(make_conninfo(**params), autocommit=True)
        self.lock = threading.Lock()
        self.requests = 0

    def close(self) -> None:
        self.conn.close()

    # -- HTTP ----------------------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        try:
            with self.lock:
                status, headers, body = self._handle(request)
        except DoubleError as exc:
            payload = {"code": exc.code, "details": exc.details, "hint": None,
                       "message": exc.message}
            return httpx.Response(exc.status, json=payload)
        content = b"" if body is None else json.dumps(body, default=str).encode()
        if body is not None:
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        return httpx.Response(status, headers=headers, content=content)

    def _handle(self, request: httpx.Request) -> tuple[int, dict[str, str], Any]:
        if not request.headers.get("apikey"):
            raise DoubleError(401, "401", "No API key found in request")
        claims = self._claims(request.headers.get("authorization"))
        role = str(claims.get("role") or "anon")
        method = request.method
        schema = request.headers.get(
            "accept-profile" if method in ("GET", "HEAD") else "content-profile"
        ) or self.schemas[0]
        if schema not in self.schemas:
            raise DoubleError(406, "PGRST106",
                              f"The schema must be one of the following: {', '.join(self.schemas)}")
        path = urlsplit(str(request.url)).path
        prefix = urlsplit(BASE_URL).path
        route = path[len(prefix):] if path.startswith(prefix) else path
        params = parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True)
        prefer = {p.strip() for h in request.headers.get_list("prefer") for p in h.split(",")}
        if route in ("", "/") and method == "GET":
            return 200, {}, self._openapi(schema, role)
        table = route.strip("/")
        if not _COLUMN.match(table):
            raise DoubleError(404, "PGRST125", f"Invalid path specified in request URL: {route}")
        body = json.loads(request.content) if request.content else None
        ctx = _Request(method, route, role, claims, schema, table, dict(request.headers))
        match method:
            case "GET":
                return self._read(ctx, params)
            case "POST":
                return self._insert(ctx, params, body, prefer)
            case "PATCH":
                return self._update(ctx, params, body, prefer)
            case "DELETE":
                return self._delete(ctx, params, prefer)
        raise DoubleError(405, "PGRST117", f"Unsupported HTTP method: {method}")

    def _claims(self, authorization: str | None) -> dict[str, Any]:
        if not authorization:
            return {}
        token = authorization.removeprefix("Bearer ").strip()
        try:
            return dict(jwt.decode(token, self.secret, algorithms=["HS256"],
                                   options={"verify_aud": False}))
        except jwt.ExpiredSignatureError:
            raise DoubleError(401, "PGRST303", "JWT expired") from None
        except jwt.PyJWTError as exc:
            raise DoubleError(401, "PGRST301", f"JWSError {type(exc).__name__}") from None

    # -- one transaction -----------------------------------------------------------------------
    def _run(self, ctx: _Request, query: sql.Composable) -> list[tuple[Any, ...]]:
        read_only = ctx.method in ("GET", "HEAD")
        settings = {
            "search_path": f'"{ctx.schema}", "public", "extensions"',
            "role": ctx.role,
            "request.jwt.claims": json.dumps(ctx.claims),
            "request.method": ctx.method,
            "request.path": ctx.route,
            "request.headers": json.dumps({k.lower(): v for k, v in ctx.headers.items()
                                           if k.lower() not in ("authorization", "apikey")}),
            "request.cookies": "{}",
            "statement_timeout": STATEMENT_TIMEOUT,
        }
        cur = self.conn.cursor()
        try:
            with self.conn.transaction():
                if read_only:
                    cur.execute("SET TRANSACTION READ ONLY")
                cur.execute(sql.SQL("SELECT {}").format(sql.SQL(", ").join(
                    sql.SQL("set_config({}, {}, true)").format(sql.Literal(k), sql.Literal(v))
                    for k, v in settings.items())))
                cur.execute(query)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            state = exc.sqlstate or "XX000"
            message = (exc.diag.message_primary or str(exc)).strip()
            raise DoubleError(_status_for(state, ctx.role), state, message,
                              exc.diag.message_detail) from None

    def _filters(self, ctx: _Request, params: Sequence[tuple[str, str]],
                 drop: bool = False) -> sql.Composable:
        parts: list[sql.Composable] = []
        for column, value in params:
            if column in ("select", "on_conflict", "columns") or drop:
                continue
            if not _COLUMN.match(column):
                raise DoubleError(400, "PGRST100", f"failed to parse filter ({column})")
            ident = sql.Identifier(ctx.schema, ctx.table, column)
            if value == "is.null":
                parts.append(sql.SQL("{} IS NULL").format(ident))
            elif value.startswith("eq."):
                parts.append(sql.SQL("{} = {}").format(ident, sql.Literal(value[3:])))
            else:
                raise DoubleError(400, "PGRST100", f"the double serves eq and is.null: {value}")
        return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")

    def _relation(self, ctx: _Request) -> sql.Composable:
        return sql.Identifier(ctx.schema, ctx.table)

    # -- reads ---------------------------------------------------------------------------------
    def _read(self, ctx: _Request, params: Sequence[tuple[str, str]]) -> tuple[int, dict, Any]:
        select = dict(params).get("select", "*")
        items = [s for s in select.split(",") if s]
        columns: list[sql.Composable] = []
        for item in items:
            if item == "*":
                columns.append(sql.SQL("{}.*").format(self._relation(ctx)))
            elif (m := _EMBED.match(item)) is not None:
                columns.append(self._embed(ctx, m.group(1)))
            elif _COLUMN.match(item):
                columns.append(sql.Identifier(ctx.schema, ctx.table, item))
            else:
                raise DoubleError(400, "PGRST100", f"failed to parse select ({item})")
        drop = ctx.table in self.faults.ignore_filters
        query = sql.SQL(
            "SELECT coalesce(json_agg(_t), '[]') FROM (SELECT {} FROM {} WHERE {}) _t"
        ).format(sql.SQL(", ").join(columns), self._relation(ctx),
                 self._filters(ctx, params, drop))
        found = self._run(ctx, query)
        body = found[0][0] if found else []
        rows = body if isinstance(body, list) else json.loads(body)
        end = f"0-{len(rows) - 1}" if rows else "*"
        return 200, {"Content-Range": f"{end}/*"}, rows

    def _embed(self, ctx: _Request, parent: str) -> sql.Composable:
        fks = self.conn.execute(
            """select array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i)
                            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n
                            order by k.i),
                      array(select a.attname::text from unnest(c.confkey) with ordinality k(n, i)
                            join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n
                            order by k.i)
               from pg_constraint c
               where c.contype = 'f' and c.conrelid = %s::regclass
                 and c.confrelid = %s::regclass""",
            (f'"{ctx.schema}"."{ctx.table}"', f'"{ctx.schema}"."{parent}"'),
        ).fetchall()
        if len(fks) != 1:
            code, what = ("PGRST200", "no") if not fks else ("PGRST201", "more than one")
            raise DoubleError(400, code, f"{what} relationship between '{ctx.table}' and "
                              f"'{parent}' in the schema cache")
        mine, theirs = fks[0]
        alias = sql.Identifier(f"{parent}_1")
        on = sql.SQL(" AND ").join(
            sql.SQL("{}.{} = {}").format(alias, sql.Identifier(t),
                                         sql.Identifier(ctx.schema, ctx.table, m))
            for m, t in zip(mine, theirs, strict=True))
        return sql.SQL("(SELECT row_to_json({a}.*) FROM {rel} AS {a} WHERE {on}) AS {name}").format(
            a=alias, rel=sql.Identifier(ctx.schema, parent), on=on, name=sql.Identifier(parent))

    # -- writes --------------------------------------------------------------------------------
    def _count_headers(self, prefer: set[str], total: int, lower: int = 1) -> dict[str, str]:
        counted = str(total) if "count=exact" in prefer else "*"
        if lower == 0 and total > 0:
            return {"Content-Range": f"0-{total - 1}/{counted}"}
        return {"Content-Range": f"*/{counted}"}

    def _insert(self, ctx: _Request, params: Sequence[tuple[str, str]], body: Any,
                prefer: set[str]) -> tuple[int, dict, Any]:
        if not isinstance(body, dict) or not body:
            raise DoubleError(400, "PGRST102", "the double inserts one JSON object")
        cols = [sql.Identifier(c) for c in body if _COLUMN.match(c)]
        if len(cols) != len(body):
            raise DoubleError(400, "PGRST204", "a column name is not valid")
        merge = "resolution=merge-duplicates" in prefer
        ignore = "resolution=ignore-duplicates" in prefer
        conflict = sql.SQL("")
        upsert = merge or ignore
        if upsert:
            keys = [c for c in dict(params).get("on_conflict", "").split(",") if c]
            if not keys:
                raise DoubleError(400, "PGRST100", "the double needs on_conflict for an upsert")
            action = sql.SQL("DO NOTHING") if ignore else sql.SQL("DO UPDATE SET {}").format(
                sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=c) for c in cols))
            conflict = sql.SQL(" ON CONFLICT ({}) {}").format(
                sql.SQL(", ").join(map(sql.Identifier, keys)), action)
        # A merge answers 200 when it only updated rows: xmax = 0 marks a row it inserted.
        returning = sql.SQL("(xmax = 0) AS pgrst_inserted" if merge else "true AS pgrst_inserted")
        query = sql.SQL(
            "WITH pgrst_source AS (INSERT INTO {rel} ({cols}) SELECT {cols} FROM "
            "json_populate_record(null::{rel}, {body}::json){conflict} RETURNING {ret}{rows}) "
            "SELECT count(*), count(*) FILTER (WHERE pgrst_inserted){agg} FROM pgrst_source"
        ).format(rel=self._relation(ctx), cols=sql.SQL(", ").join(cols),
                 body=sql.Literal(json.dumps(body)), conflict=conflict, ret=returning,
                 **_representation(ctx, prefer))
        total, inserted, *rows = self._run(ctx, query)[0]
        status = 201 if inserted > 0 or not merge else 200
        return status, self._count_headers(prefer, total), _rows(rows)

    def _update(self, ctx: _Request, params: Sequence[tuple[str, str]], body: Any,
                prefer: set[str]) -> tuple[int, dict, Any]:
        if not isinstance(body, dict) or not body or not all(_COLUMN.match(c) for c in body):
            raise DoubleError(400, "PGRST102", "the double updates with one JSON object")
        sets = sql.SQL(", ").join(
            sql.SQL("{c} = pgrst_body.{c}").format(c=sql.Identifier(c)) for c in body)
        query = sql.SQL(
            "WITH pgrst_source AS (UPDATE {rel} SET {sets} FROM (SELECT * FROM "
            "json_populate_record(null::{rel}, {body}::json)) pgrst_body WHERE {where} "
            "RETURNING 1{rows}) SELECT count(*){agg} FROM pgrst_source"
        ).format(rel=self._relation(ctx), sets=sets, body=sql.Literal(json.dumps(body)),
                 where=self._filters(ctx, params), **_representation(ctx, prefer))
        total, *rows = self._run(ctx, query)[0]
        return _written(rows), self._count_headers(prefer, total, lower=0), _rows(rows)

    def _delete(self, ctx: _Request, params: Sequence[tuple[str, str]],
                prefer: set[str]) -> tuple[int, dict, Any]:
        query = sql.SQL(
            "WITH pgrst_source AS (DELETE FROM {rel} WHERE {where} RETURNING 1{rows}) "
            "SELECT count(*){agg} FROM pgrst_source"
        ).format(rel=self._relation(ctx), where=self._filters(ctx, params),
                 **_representation(ctx, prefer))
        total, *rows = self._run(ctx, query)[0]
        return _written(rows), self._count_headers(prefer, total), _rows(rows)

    # -- the description -----------------------------------------------------------------------
    def _openapi(self, schema: str, role: str) -> dict[str, Any]:
        relations = self.conn.execute(
            """select c.relname, c.relkind from pg_class c
               join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = %(s)s and c.relkind in ('r', 'p', 'v', 'm', 'f')
                 and (has_any_column_privilege(%(r)s, c.oid, 'SELECT, INSERT, UPDATE') or
                      has_table_privilege(%(r)s, c.oid, 'DELETE'))
               order by 1""", {"s": schema, "r": role}).fetchall()
        functions = self.conn.execute(
            """select distinct p.proname from pg_proc p
               join pg_namespace n on n.oid = p.pronamespace
               where n.nspname = %(s)s and p.prokind = 'f'
                 and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype)
                 and has_function_privilege(%(r)s, p.oid, 'EXECUTE')
               order by 1""", {"s": schema, "r": role}).fetchall()
        paths: dict[str, Any] = {"/": {"get": {"summary": "OpenAPI description (this document)",
                                               "tags": ["Introspection"]}}}
        for name, kind in relations:
            ops = {"get": {"tags": [name]}}
            if kind in ("r", "p"):
                ops |= {"post": {"tags": [name]}, "patch": {"tags": [name]},
                        "delete": {"tags": [name]}}
            paths[f"/{name}"] = ops
        for (name,) in functions:
            paths[f"/rpc/{name}"] = {"post": {"tags": ["(rpc) " + name]}}
        return {
            "swagger": "2.0",
            "info": {"title": "PostgREST protocol double", "version": str(int(time.time()))},
            "basePath": "/", "schemes": ["http"],
            "consumes": ["application/json"], "produces": ["application/json"],
            "paths": paths,
            "definitions": {name: {"type": "object"} for name, _ in relations},
        }


@dataclasses.dataclass(frozen=True)
class _Request:
    method: str
    route: str
    role: str
    claims: Mapping[str, Any]
    schema: str
    table: str
    headers: Mapping[str, str]


def _representation(ctx: _Request, prefer: set[str]) -> dict[str, sql.Composable]:
    """With `Prefer: return=representation`, the written rows as a JSON array beside the count."""
    if "return=representation" not in prefer:
        return {"rows": sql.SQL(""), "agg": sql.SQL("")}
    return {"rows": sql.SQL(", to_json({}.*) AS pgrst_json").format(sql.Identifier(ctx.table)),
            "agg": sql.SQL(", coalesce(json_agg(pgrst_json), '[]')")}


def _rows(extra: list[Any]) -> Any:
    """The written rows when they were asked for (None: the body stays empty)."""
    return extra[0] if extra else None


def _written(extra: list[Any]) -> int:
    """A PATCH or DELETE answers 200 with the rows it was asked to return, else 204."""
    return 200 if extra else 204
