"""Every session the harness opens to PostgreSQL, with a connect timeout and a statement timeout.

`connect()` is the one way the harness reaches a database: the session's `statement_timeout`
is set as soon as it is open (`SOBERHARNESS_STATEMENT_TIMEOUT` seconds, default 300; the same
setting bounds each statement of a migration or bootstrap file), so no statement the harness
sends can hang a run. A statement that hits it raises `StatementHung`, whose message is one
line naming the statement, the database and the setting to raise; it is a `QueryCanceled`
too, so code that expects PostgreSQL's own error still catches it. Code that sets a shorter
timeout of its own (`SET LOCAL statement_timeout`) keeps it.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from soberharness.errors import BadInput, HarnessError

ENV = "SOBERHARNESS_STATEMENT_TIMEOUT"
DEFAULT_S = 300.0
CONNECT_TIMEOUT_S = 10


def statement_timeout_s() -> float:
    """The statement timeout of the harness's sessions, in seconds (one line when bad)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_S
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{ENV}={raw!r} is not a number of seconds (unset it for "
                       f"{DEFAULT_S:g})") from None
    if not 0 < value < float("inf"):
        raise BadInput(f"{ENV}={raw!r} must be a positive number of seconds (unset it for "
                       f"{DEFAULT_S:g})")
    return value


class StatementHung(pg_errors.QueryCanceled, HarnessError):
    """A statement the harness sent got no answer within the statement timeout."""


def _where(conn: psycopg.Connection[Any]) -> str:
    info = conn.info
    return f"database {info.dbname} on {info.host}:{info.port}"


def hung_line(statement: str, where: str, seconds: float | None) -> str:
    first = " ".join(statement.split())[:100]
    limit = f"the session's {seconds:g} s" if seconds else "its"
    return (f"statement `{first}` on {where} got no answer within {limit} statement timeout "
            f"(raise {ENV} for slow statements)")


class TimedCursor(psycopg.Cursor[Any]):
    """A cursor whose statement timeout names the statement in one line."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> TimedCursor:
        try:
            super().execute(query, params, prepare=prepare, binary=binary)
        except pg_errors.QueryCanceled as exc:
            if "statement timeout" not in str(exc):
                raise
            text = query.as_string(self) if hasattr(query, "as_string") else query
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            seconds = getattr(self.connection, "_soberharness_timeout_s", None)
            raise StatementHung(hung_line(str(text), _where(self.connection), seconds)) from None
        return self


def connect(conninfo: str = "", *, autocommit: bool = False,
            connect_timeout: int = CONNECT_TIMEOUT_S, timeout_s: float | None = None,
            **kwargs: Any) -> psycopg.Connection[Any]:
    """A session with the harness's timeouts (`timeout_s` overrides the statement timeout)."""
    seconds = timeout_s if timeout_s is not None else statement_timeout_s()
    given = conninfo_to_dict(conninfo) if conninfo else {}
    if "connect_timeout" in given or "connect_timeout" in kwargs:
        kwargs.setdefault("connect_timeout", given.get("connect_timeout"))
    else:
        kwargs["connect_timeout"] = connect_timeout
    conn = psycopg.connect(conninfo, autocommit=autocommit, cursor_factory=TimedCursor,
                           **kwargs)
    conn._soberharness_timeout_s = seconds  # type: ignore[attr-defined]
    conn.execute(f"SET statement_timeout = {max(1, round(seconds * 1000))}".encode())
    if not autocommit:
        conn.commit()
    return conn
