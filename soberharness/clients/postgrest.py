"""A PostgREST client that sends requests the way supabase-js (postgrest-js) does.

What postgrest-js puts on the wire, and this client too:
- every request: `apikey` (the project's anon key, for the gateway) and `Authorization: Bearer`
  (the user's access token, else the key itself); `Accept-Profile: <schema>` on GET/HEAD and
  `Content-Profile: <schema>` on the others (supabase-js always names the schema, `public` by
  default); `Content-Type: application/json` on everything but GET/HEAD;
- `.select(columns)`: `GET /<table>?select=<columns>` with filters `col=eq.<value>` (`is.null`
  for None), embedding written inside `select` (`*,posts(*)`); `{count}` adds `Prefer: count=…`;
- `.insert(row, {count})`: `POST /<table>` with the row as a JSON object, `Prefer: count=…`
  when counting, nothing else (the row is not returned);
- `.upsert(row, {onConflict, ignoreDuplicates})`: the same POST with
  `Prefer: resolution=merge-duplicates` (or `ignore-duplicates`) and `?on_conflict=<cols>`;
- `.update(values, {count}).eq(…)`: `PATCH /<table>?<filters>`; `.delete({count}).eq(…)`:
  `DELETE /<table>?<filters>`;
- `.rpc(fn, args)`: `POST /rpc/<fn>` with the arguments as a JSON object.

The answer: 2xx with a JSON body (or none: `return=minimal`); the count is the total after the
slash of `Content-Range` (`0-0/1`, `*/0`); an error is a JSON object `{code, message, details,
hint}` (PostgREST's own codes are PGRSTnnn, database errors their SQLSTATE). Every call has a
timeout; an unreachable server is one line (`PostgrestUnavailable`), never a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx

from soberharness.errors import HarnessError

TIMEOUT_S = 10.0
CLIENT_INFO = "soberharness-postgrest/1"  # supabase-js sends X-Client-Info: supabase-js/<ver>
Count = Literal["exact", "planned", "estimated"]


class PostgrestUnavailable(HarnessError):
    """PostgREST (or the gateway in front of it) could not be reached in time."""


@dataclasses.dataclass(frozen=True)
class RestError:
    code: str
    message: str
    details: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclasses.dataclass(frozen=True)
class RestResponse:
    method: str
    path: str
    status: int
    body: Any  # decoded JSON; None for an empty body
    content_range: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def count(self) -> int | None:
        """The total after the slash of Content-Range, as postgrest-js reads it."""
        if not self.content_range or "/" not in self.content_range:
            return None
        total = self.content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None

    @property
    def rows(self) -> list[Any] | None:
        return self.body if self.ok and isinstance(self.body, list) else None

    @property
    def error(self) -> RestError | None:
        if self.ok:
            return None
        body = self.body if isinstance(self.body, dict) else {}
        return RestError(
            str(body.get("code") or self.status),
            str(body.get("message") or body.get("msg") or self.body or "no message"),
            body.get("details"), body.get("hint"),
        )


def filter_value(value: Any) -> str:
    """`col=eq.<value>` as `.eq(col, value)` writes it (`.is(col, null)` for None)."""
    if value is None:
        return "is.null"
    if isinstance(value, bool):
        return "eq." + ("true" if value else "false")
    return f"eq.{value}"


def _json_default(value: Any) -> Any:
    """What JSON.stringify makes of the values a row holds."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=_json_default, separators=(",", ":")).encode()


class PostgrestClient:
    """One caller of one PostgREST: `url` is its base (`…/rest/v1` behind the gateway)."""

    def __init__(
        self,
        url: str,
        apikey: str,
        token: str | None = None,
        timeout: float = TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.apikey = apikey
        self.token = token or apikey
        self.timeout = timeout
        self._own = http is None
        self.http = http or httpx.Client(timeout=timeout, transport=transport)

    def as_token(self, token: str | None) -> PostgrestClient:
        """The same server and key, another caller (shares the connection pool)."""
        return PostgrestClient(self.url, self.apikey, token, self.timeout, http=self.http)

    def close(self) -> None:
        if self._own:
            self.http.close()

    def __enter__(self) -> PostgrestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the request -------------------------------------------------------------------------
    def headers(
        self, method: str, schema: str | None, prefer: Sequence[str] = ()
    ) -> dict[str, str]:
        out = {
            "apikey": self.apikey,
            "Authorization": f"Bearer {self.token}",
            "X-Client-Info": CLIENT_INFO,
        }
        if schema is not None:
            out["Accept-Profile" if method in ("GET", "HEAD") else "Content-Profile"] = schema
        if method not in ("GET", "HEAD"):
            out["Content-Type"] = "application/json"
        if prefer:
            out["Prefer"] = ",".join(prefer)
        return out

    def send(
        self,
        method: str,
        path: str,
        schema: str | None = "public",
        params: Sequence[tuple[str, str]] = (),
        body: Any = None,
        prefer: Sequence[str] = (),
    ) -> RestResponse:
        url = self.url + path
        content = dumps(body) if method not in ("GET", "HEAD") and body is not None else None
        try:
            response = self.http.request(
                method, url, params=list(params), content=content,
                headers=self.headers(method, schema, prefer), timeout=self.timeout,
            )
        except httpx.TimeoutException:
            raise PostgrestUnavailable(
                f"PostgREST at {self.url} did not answer {method} {path} within "
                f"{self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise PostgrestUnavailable(
                f"PostgREST at {self.url} unreachable for {method} {path}: "
                f"{type(exc).__name__}"
            ) from None
        text = response.text
        try:
            decoded: Any = json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            decoded = text
        return RestResponse(method, path, response.status_code, decoded,
                            response.headers.get("content-range"))

    # -- what supabase-js offers -------------------------------------------------------------
    def select(
        self,
        table: str,
        filters: Mapping[str, Any] | None = None,
        columns: str = "*",
        schema: str = "public",
        count: Count | None = None,
    ) -> RestResponse:
        params = [("select", columns),
                  *((c, filter_value(v)) for c, v in (filters or {}).items())]
        return self.send("GET", f"/{table}", schema, params,
                         prefer=[f"count={count}"] if count else [])

    def insert(
        self, table: str, row: Mapping[str, Any], schema: str = "public",
        count: Count | None = None,
    ) -> RestResponse:
        return self.send("POST", f"/{table}", schema, body=dict(row),
                         prefer=[f"count={count}"] if count else [])

    def upsert(
        self,
        table: str,
        row: Mapping[str, Any],
        on_conflict: Sequence[str] | None = None,
        ignore_duplicates: bool = False,
        schema: str = "public",
        count: Count | None = None,
    ) -> RestResponse:
        prefer = [f"resolution={'ignore' if ignore_duplicates else 'merge'}-duplicates"]
        if count:
            prefer.append(f"count={count}")
        params = [("on_conflict", ",".join(on_conflict))] if on_conflict is not None else []
        return self.send("POST", f"/{table}", schema, params, body=dict(row), prefer=prefer)

    def update(
        self, table: str, values: Mapping[str, Any], filters: Mapping[str, Any],
        schema: str = "public", count: Count | None = None,
    ) -> RestResponse:
        params = [(c, filter_value(v)) for c, v in filters.items()]
        return self.send("PATCH", f"/{table}", schema, params, body=dict(values),
                         prefer=[f"count={count}"] if count else [])

    def delete(
        self, table: str, filters: Mapping[str, Any], schema: str = "public",
        count: Count | None = None,
    ) -> RestResponse:
        params = [(c, filter_value(v)) for c, v in filters.items()]
        return self.send("DELETE", f"/{table}", schema, params,
                         prefer=[f"count={count}"] if count else [])

    def rpc(self, fn: str, args: Mapping[str, Any], schema: str = "public") -> RestResponse:
        return self.send("POST", f"/rpc/{fn}", schema, body=dict(args))

    def openapi(self, schema: str | None = None) -> RestResponse:
        """PostgREST's description of what it exposes to this caller (`GET /`), of `schema`
        (its first exposed schema when None)."""
        return self.send("GET", "/", schema)
