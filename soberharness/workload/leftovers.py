"""What a run left behind on a target, found by the run's id.

Everything a run creates on a target carries its run id: the auth suite's e-mails and identity
subjects (`<label>-<mark>-<random>`, workload/auth_target.py), the matrix and storage worlds'
handles and e-mails (`matrix_<actor>_<run id>`), the storage suite's buckets
(`sober-limits-<run id>`). `find_leftovers` lists, per kind, what still carries it; the
harness calls it once at the end of a run (pytest_plugin) and checker/leftovers.py judges.

A kind whose table the target lacks (auth.identities before GoTrue migrated) is not looked at.
"""

from __future__ import annotations

import dataclasses
import re

import psycopg
from psycopg import sql

from soberharness.checker.leftovers import Leftover
from soberharness.db import session as db_session

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT = "15s"
SHOWN = 5  # names listed per kind (the count is always whole)
MIN_MARK = 6  # a shorter run id would match what other runs (and people) made


def run_mark(run_id: str) -> str:
    """The run id as it goes into e-mail addresses and provider subjects: lower-case letters
    and digits only (a random run id, 8 hex digits, is its own mark)."""
    return re.sub(r"[^a-z0-9]", "", run_id.lower())[:32] or "run"


def marks(run_id: str) -> list[str]:
    """The strings that tag the run's things: its id as is (world handles, bucket names) and
    its mark (e-mails, subjects)."""
    return sorted({run_id.lower(), run_mark(run_id)})


@dataclasses.dataclass(frozen=True)
class LeftoverKind:
    """One kind of thing a run can leave: where it lives, how an item is named, and the
    columns any of which carries the run's mark."""

    table: str
    name: str  # SQL expression naming one item
    tagged: tuple[str, ...]  # SQL expressions (text) that carry the mark
    also_by: tuple[str, str] | None = None  # (table it needs, SQL condition with {tagged})


_IDENTITY_MARKS = ("provider_id", "identity_data->>'email'")
KINDS: tuple[LeftoverKind, ...] = (
    # A user found by an identity of the run: an identity provider's sign-in may leave a user
    # whose e-mail is null, found only through its identity's subject.
    LeftoverKind("auth.users", "coalesce(email, id::text || ' (no e-mail)')", ("email",),
                 ("auth.identities", "id IN (SELECT user_id FROM auth.identities "
                                     "WHERE {tagged})")),
    LeftoverKind("auth.identities", "provider || ':' || provider_id", _IDENTITY_MARKS),
    LeftoverKind("public.profiles", "handle", ("handle",)),
    LeftoverKind("storage.buckets", "id", ("id", "name")),
    LeftoverKind("storage.objects", "bucket_id || '/' || name", ("bucket_id", "name")),
)


def table_exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def _any_tagged(columns: tuple[str, ...], run_marks: list[str]) -> sql.Composable:
    checks = [sql.SQL("strpos(lower(coalesce(({}), '')), {}) > 0").format(
        sql.SQL(column), sql.Literal(mark)) for column in columns for mark in run_marks]
    return sql.SQL("(") + sql.SQL(" OR ").join(checks) + sql.SQL(")")


def query_for(kind: LeftoverKind, run_marks: list[str],
              with_also: bool) -> sql.Composable:
    """SELECT count, and the first names, of the kind's items carrying one of the marks."""
    where = _any_tagged(kind.tagged, run_marks)
    if kind.also_by and with_also:
        also = sql.SQL(kind.also_by[1]).format(tagged=_any_tagged(_IDENTITY_MARKS, run_marks))
        where = sql.SQL("({} OR {})").format(where, also)
    return sql.SQL(
        "SELECT count(*), (array_agg(n ORDER BY n))[1:{shown}] FROM "
        "(SELECT {name} AS n FROM {table} WHERE {where}) found"
    ).format(shown=sql.Literal(SHOWN), name=sql.SQL(kind.name), table=sql.SQL(kind.table),
             where=where)


def find_leftovers(dsn: str, run_id: str) -> list[Leftover]:
    """Every kind of thing carrying the run's id still on the database at `dsn`."""
    run_marks = marks(run_id)
    found: list[Leftover] = []
    with db_session.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        for kind in KINDS:
            if not table_exists(conn, kind.table):
                continue
            with_also = bool(kind.also_by and table_exists(conn, kind.also_by[0]))
            row = conn.execute(query_for(kind, run_marks, with_also).as_bytes(conn)).fetchone()
            if row and row[0]:
                found.append(Leftover(kind.table, int(row[0]), tuple(row[1] or ())))
    return found
