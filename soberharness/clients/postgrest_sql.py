"""Run SQL exactly as PostgREST (and the Storage API) run a request.

Per request PostgREST opens one transaction (READ ONLY for GET/HEAD), switches to the
role named by the token with `set_config('role', ..., true)`, sets `request.jwt.claims`,
`request.method`, `request.path`, `request.headers`, `request.cookies` and `search_path`
as transaction-local settings, runs the query, and ends the transaction. Here the whole
request goes to the server in one round trip and is rolled back (or committed), so a
matrix cell leaves the database as it found it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from soberharness.db.claims import claims_for
from soberharness.records.outcome import Outcome
from soberharness.world.entities import Viewer

SEARCH_PATH = '"public", "extensions"'

# A request on a storage path is the Storage API's: besides the role and claims it sets
# `storage.allow_delete_query` in every transaction, which the storage schema's
# protect_delete triggers (tenant migration 0055) require before any DELETE on
# storage.objects or storage.buckets.
STORAGE_PATH = "/storage/v1/"
STORAGE_SETTINGS = [("storage.allow_delete_query", "true")]


@dataclasses.dataclass(frozen=True)
class Request:
    """A request's SQL: what runs as the caller, and superuser setup before the role switch."""

    query: sql.Composable
    method: str = "GET"
    path: str = "/"
    setup: Sequence[sql.Composable] = ()


def request_setting_pairs(
    viewer: Viewer,
    method: str,
    path: str,
    email: str | None = None,
    claims: dict[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """The (name, value) pairs PostgREST sets transaction-locally at the start of each request,
    in order (`request_settings` is the statement setting them)."""
    return setting_pairs(*token_of(viewer, email, claims), method, path)


def token_of(viewer: Viewer, email: str | None = None, claims: dict[str, Any] | None = None
             ) -> tuple[str, str]:
    """The role PostgREST switches to for `viewer`'s token and the token's claims as JSON:
    `claims` when given (its `role` claim decides the role), else those minted for `viewer`."""
    role = viewer.role.value
    if claims is None:
        claims = claims_for(viewer, email)
    else:
        role = str(claims.get("role") or role)
    return role, json.dumps(claims)


_HEADERS = json.dumps({"accept": "application/json"})


def setting_pairs(role: str, claims_json: str, method: str, path: str
                  ) -> list[tuple[str, str]]:
    """`request_setting_pairs` for a token already read (`token_of`)."""
    settings = [
        ("search_path", SEARCH_PATH),
        ("role", role),
        ("request.jwt.claims", claims_json),
        ("request.method", method),
        ("request.path", path),
        ("request.headers", _HEADERS),
        ("request.cookies", "{}"),
    ]
    if path.startswith(STORAGE_PATH):
        settings += STORAGE_SETTINGS
    return settings


def request_settings(
    viewer: Viewer,
    method: str,
    path: str,
    email: str | None = None,
    claims: dict[str, Any] | None = None,
) -> sql.Composed:
    """The `SELECT set_config(...)` PostgREST issues at the start of each request.

    `claims` replaces the claims the harness would mint for `viewer` (a real token's
    decoded payload, see soberharness.runner.tokens_into_rls); the role switched to is
    then the token's `role` claim, as PostgREST does.
    """
    pairs = request_setting_pairs(viewer, method, path, email, claims)
    return sql.Composed([sql.SQL(settings_statement(pairs).decode())])


def settings_statement(pairs: Sequence[tuple[str, str]]) -> bytes:
    """The `SELECT set_config(name, value, true), ...` setting `pairs` in order. Written out
    directly (this runs once per matrix cell; composing Literals costs more than the request):
    string literals as the server reads them with standard_conforming_strings."""
    return ("SELECT " + ", ".join(
        f"set_config({_quote(k)}, {_quote(v)}, true)" for k, v in pairs)).encode()


def storage_switch() -> bytes:
    """The SELECT that sets STORAGE_SETTINGS for the transaction (a write as the superuser
    that the Storage API's triggers would otherwise refuse)."""
    pairs = ", ".join(f"set_config({_quote(k)}, {_quote(v)}, true)" for k, v in STORAGE_SETTINGS)
    return f"SELECT {pairs}".encode()


def _quote(value: str) -> str:
    """A SQL string literal (standard_conforming_strings = on, PostgreSQL's default)."""
    if "\x00" in value:
        raise ValueError("a request setting cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def request_parts(request: Request, commit: bool = False
                  ) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """The request's statements before its settings (begin, setup) and after them (the query,
    the end), each rendered alone: the same for every caller sending this request."""
    read_only = request.method in ("GET", "HEAD") and not request.setup
    begin = "BEGIN ISOLATION LEVEL READ COMMITTED" + (" READ ONLY" if read_only else "")
    head = (begin.encode(), *(part.as_bytes(None) for part in request.setup))
    return head, (request.query.as_bytes(None), b"COMMIT" if commit else b"ROLLBACK")


def render(
    viewer: Viewer,
    request: Request,
    commit: bool = False,
    claims: dict[str, Any] | None = None,
) -> bytes:
    """The whole request as one simple-protocol string: begin, setup, settings, query, end.
    `claims` replaces the token claims minted for `viewer` (see `request_settings`)."""
    head, tail = request_parts(request, commit)
    settings = request_settings(viewer, request.method, request.path, claims=claims)
    return b";\n".join([*head, settings.as_bytes(None), *tail])


class RequestRunner:
    """Runs requests on one connection (autocommit; each request is its own transaction)."""

    def __init__(self, conn: psycopg.Connection, commit: bool = False) -> None:
        if not conn.autocommit:
            raise ValueError("RequestRunner needs an autocommit connection")
        self.conn = conn
        self.commit = commit

    def run(self, viewer: Viewer, request: Request) -> Outcome:
        return self.execute(render(viewer, request, self.commit), len(request.setup))

    def execute(self, text: bytes, setup_statements: int) -> Outcome:
        """Send a request rendered by `render` (one round trip unless it fails)."""
        cur = self.conn.cursor()
        try:
            cur.execute(text)
        except psycopg.Error as exc:
            if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.conn.execute("ROLLBACK")
            state = exc.sqlstate or "?"
            return Outcome([], 0, f"{state}: {(exc.diag.message_primary or str(exc)).strip()}")
        # Results come in statement order: BEGIN, setup..., settings, query, end.
        for _ in range(setup_statements + 2):
            cur.nextset()
        rows = cur.fetchall() if cur.description else []
        return Outcome(rows, cur.rowcount)
