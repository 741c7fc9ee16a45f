"""The non-interference oracle run: every viewer's whole readable snapshot, before and inside
each change the model says that viewer cannot observe (soberharness.workload.invisible_changes).

A viewer's snapshot is read as PostgREST would read it (the API role and the viewer's claims,
transaction-local): every column the role may select of every table, view and materialized view
of the exposed schemas, and the results of every exposed function it may call on a fixed
argument set (soberharness.runner.function_calls, each function a pseudo-relation of
(args, result) rows), each relation reduced to a digest in the database (a row count and the
sum of the rows' 64-bit hashes: independent of row order, so nothing is sorted), all relations in
one statement. A change and the snapshots of its blind viewers go to the server in one round
trip and are rolled back. Where a digest moved, the relation's rows are fetched before and after
to name the column and both values (soberharness.checker.noninterference judges).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Sequence

import psycopg
from psycopg import sql

from soberharness.checker.noninterference import changed_relations, explain
from soberharness.clients.postgrest_sql import request_settings, storage_switch
from soberharness.db import session as db_session
from soberharness.db.claims import claims_for
from soberharness.records.noninterference import Difference, Rows, Snapshot
from soberharness.runner.function_calls import calls as function_calls
from soberharness.workload.function_args import Samples, argument_samples
from soberharness.workload.invisible_changes import InvisibleChange, matrix_viewers, names
from soberharness.world.entities import Viewer
from soberharness.world.matrix_world import MatrixWorld

# What the viewer may select, listed as the viewer (its role and claims in force).
READABLE = """
select n.nspname || '.' || c.relname, array_agg(a.attname::text order by a.attnum)
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f')
  and pg_catalog.has_schema_privilege(n.oid, 'USAGE')
  and pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT')
group by 1 order by 1
"""
# Key columns of each table (to pair rows when explaining a difference).
PRIMARY_KEYS = """
select n.nspname || '.' || c.relname, array_agg(a.attname::text order by a.attnum)
from pg_catalog.pg_index i
join pg_catalog.pg_class c on c.oid = i.indrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum = any(i.indkey)
where i.indisprimary and n.nspname = any(%s)
group by 1
"""


# A hung statement (a view or policy that never ends) fails the run instead of hanging it.
STATEMENT_TIMEOUT = "30s"


def connect(dsn: str, autocommit: bool = False) -> psycopg.Connection:
    """A connection whose statements time out."""
    conn = db_session.connect(dsn, autocommit=True)
    conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    conn.autocommit = autocommit
    return conn


@dataclasses.dataclass(frozen=True)
class Reader:
    """One viewer as the database sees it: its label, the request settings and what it reads."""

    label: str
    settings: bytes  # the SELECT set_config(...) of a GET request as this viewer
    relations: dict[str, tuple[str, ...]]  # qualified relation -> readable columns
    # schema.function(types) -> the select of its (args, result) rows on the sample set
    calls: dict[str, sql.Composed] = dataclasses.field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every relation and function of the snapshot, in name order."""
        return sorted({*self.relations, *self.calls})

    def only(self, name: str) -> Reader:
        """The reader of one relation or function."""
        return dataclasses.replace(
            self, relations={k: v for k, v in self.relations.items() if k == name},
            calls={k: v for k, v in self.calls.items() if k == name})

    def key(self, name: str, keys: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        """The columns pairing a relation's rows (its primary key, or id) or a function's
        (its arguments)."""
        if name in self.calls:
            return ("args",)
        return keys.get(name) or (("id",) if "id" in self.relations.get(name, ()) else ())

    def select(self, relation: str) -> sql.Composed:
        if relation in self.calls:
            return self.calls[relation]
        schema, name = relation.split(".", 1)
        return sql.SQL("select {} from {}.{}").format(
            sql.SQL(", ").join(map(sql.Identifier, self.relations[relation])),
            sql.Identifier(schema), sql.Identifier(name))

    def digest_query(self) -> bytes:
        """One statement: (relation, digest) for every relation the viewer reads."""
        parts = [
            sql.SQL("select {} as rel, count(*) || ':' || "
                    "coalesce(sum(hashtextextended(x::text, 0)::numeric), 0) from ({}) x").format(
                sql.Literal(rel), self.select(rel))
            for rel in self.names
        ]
        return sql.SQL(" union all ").join(parts).as_bytes(None)

    def rows_query(self, relation: str) -> bytes:
        return sql.SQL("select to_jsonb(x) from ({}) x").format(
            self.select(relation)).as_bytes(None)


def _settings(viewer: Viewer) -> bytes:
    text = request_settings(viewer, "GET", "/rest/v1/", claims=claims_for(viewer)).as_bytes(None)
    return text


def reader(
    conn: psycopg.Connection,
    label: str,
    viewer: Viewer,
    schemas: Sequence[str],
    samples: Samples | None = None,
) -> Reader:
    """What `viewer` may select in `schemas`, listed as the viewer (autocommit connection);
    with `samples`, also the functions it may call there on that argument set."""
    settings = _settings(viewer)
    with conn.transaction(force_rollback=True):
        conn.execute(settings)
        listed = conn.execute(READABLE, [list(schemas)]).fetchall()
        called = function_calls(conn, schemas, samples) if samples is not None else {}
    return Reader(label, settings, {rel: tuple(cols) for rel, cols in listed}, called)


def _change_prefix(statements: Sequence[bytes]) -> bytes:
    """Begin, the Storage API's delete switch (its tables refuse DELETE without it), Δ."""
    return b";\n".join([b"BEGIN", storage_switch(), *statements])


class Refused(Exception):
    """The database refused the change itself (named in the run, not judged)."""


def _applies(conn: psycopg.Connection, change: Sequence[bytes]) -> bool:
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(_change_prefix(change)[len(b"BEGIN;\n"):])
    except psycopg.Error:
        return False
    return True


def _snapshots(
    conn: psycopg.Connection,
    readers: Sequence[Reader],
    change: Sequence[bytes],
    statements: dict[str, bytes] | None = None,
) -> dict[str, Snapshot]:
    """Each reader's snapshot after `change` (rolled back), in one round trip; `statements`
    (by reader label) runs a reader's digest `prepare`d on the connection instead."""
    statements = statements or {}
    text = b";\n".join([_change_prefix(change),
                        *(part for r in readers for part in (
                            r.settings, statements.get(r.label) or r.digest_query())),
                        b"ROLLBACK"])
    cur = conn.cursor()
    try:
        cur.execute(text)
    except psycopg.Error:
        conn.rollback()
        if not _applies(conn, change):
            raise Refused from None
        return _snapshots_one_by_one(conn, readers, change)
    for _ in range(2 + len(change)):
        cur.nextset()
    out: dict[str, Snapshot] = {}
    for r in readers:
        cur.nextset()  # the settings
        out[r.label] = dict(cur.fetchall())
        cur.nextset()
    return out


def snapshots_now(conn: psycopg.Connection, readers: Sequence[Reader]) -> dict[str, Snapshot]:
    """Each reader's snapshot of the database as it is (one round trip, rolled back)."""
    return _snapshots(conn, readers, [])


def prepare(conn: psycopg.Connection, readers: Sequence[Reader], prefix: str) -> list[str]:
    """Each reader's digest statement prepared on the connection (autocommit) as
    `<prefix><i>`, replacing an earlier one of that name: a statement run after every step
    is planned once (the role's policies are planned in; the claims are read as it runs).
    Turns psycopg's own preparing off on the connection: psycopg deallocates every prepared
    statement of the session when it sees a ROLLBACK while it holds some of its own."""
    conn.prepare_threshold = None
    names = [f"{prefix}{i}" for i in range(len(readers))]
    for name, r in zip(names, readers, strict=True):
        if _prepared(conn, name):
            conn.execute(f"DEALLOCATE {name}")
        conn.execute(f"PREPARE {name} AS ".encode() + r.digest_query())
    return names


def _prepared(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("select 1 from pg_catalog.pg_prepared_statements where name = %s",
                       [name]).fetchone()
    return row is not None


def snapshots_prepared(
    conn: psycopg.Connection, readers: Sequence[Reader], names: Sequence[str]
) -> dict[str, Snapshot]:
    """Each reader's snapshot of the database as it is, by its statement `prepare`d as
    `names` (one round trip, rolled back); the unprepared path when it fails (an error
    becomes that relation's digest there)."""
    text = b";\n".join([b"BEGIN READ ONLY",
                         *(part for r, name in zip(readers, names, strict=True)
                           for part in (r.settings, f"EXECUTE {name}".encode())),
                         b"ROLLBACK"])
    cur = conn.cursor()
    try:
        cur.execute(text)
    except psycopg.Error:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        return snapshots_now(conn, readers)
    out: dict[str, Snapshot] = {}
    for r in readers:
        cur.nextset()  # the settings
        cur.nextset()
        out[r.label] = dict(cur.fetchall())
    return out


def _snapshots_one_by_one(
    conn: psycopg.Connection, readers: Sequence[Reader], change: Sequence[bytes]
) -> dict[str, Snapshot]:
    """The slow path when the one statement fails: each relation on its own, an error its
    digest (a relation a viewer may select but not read is part of what the viewer sees)."""
    out: dict[str, Snapshot] = {}
    for r in readers:
        snap: Snapshot = {}
        with conn.transaction(force_rollback=True):
            conn.execute(_change_prefix(change)[len(b"BEGIN;\n"):])
            conn.execute(r.settings)
            for rel in r.names:
                snap[rel] = _digest_or_error(conn, r, rel)
        out[r.label] = snap
    return out


def _digest_or_error(conn: psycopg.Connection, r: Reader, rel: str) -> str:
    one = r.only(rel)
    try:
        with conn.transaction():
            row = conn.execute(one.digest_query()).fetchone()
    except psycopg.Error as exc:
        return f"error {exc.sqlstate}"
    return str(row[1]) if row else ""


def fetch_rows(
    conn: psycopg.Connection, r: Reader, relation: str, change: Sequence[bytes]
) -> Rows:
    """The relation's rows as the viewer reads them, after `change` (rolled back)."""
    with conn.transaction(force_rollback=True):
        conn.execute(_change_prefix(change)[len(b"BEGIN;\n"):])
        conn.execute(r.settings)
        try:
            with conn.transaction():
                return [row[0] for row in conn.execute(r.rows_query(relation)).fetchall()]
        except psycopg.Error as exc:
            return [{"error": exc.sqlstate}]


@dataclasses.dataclass
class NonInterferenceRun:
    differences: list[Difference]
    changes: int  # changes tried
    snapshots: int  # viewer snapshots compared
    not_applied: list[str]  # changes the database refused (named, not judged)
    seconds: float


def _rendered(ic: InvisibleChange) -> list[bytes]:
    return [s.as_bytes(None) for s in ic.change.statements()]


def _named(diff: Difference, who: dict[str, str]) -> Difference:
    """The difference with the matrix users' ids in its row key replaced by their names."""
    row = diff.row
    for user_id, name in who.items():
        row = row.replace(user_id, name)
    return dataclasses.replace(diff, row=row)


def _judge_change(
    conn: psycopg.Connection,
    ic: InvisibleChange,
    readers: dict[str, Reader],
    base: dict[str, Snapshot],
    keys: dict[str, tuple[str, ...]],
    statements: dict[str, bytes],
) -> list[Difference]:
    change = _rendered(ic)
    blind = [readers[label] for label in ic.blind]
    after = _snapshots(conn, blind, change, statements)
    out: list[Difference] = []
    for r in blind:
        for rel in changed_relations(base[r.label], after[r.label]):
            key = r.key(rel, keys)
            out += explain(ic.change.change.label, r.label, rel,
                           fetch_rows(conn, r, rel, []), fetch_rows(conn, r, rel, change), key)
    return out


def _base_snapshots(dsn: str, readers: Sequence[Reader], workers: int) -> dict[str, Snapshot]:
    """Every reader's snapshot of the world as it is, the readers split over `workers`."""

    def part(chunk: Sequence[Reader]) -> dict[str, Snapshot]:
        with connect(dsn) as conn:
            return _snapshots(conn, chunk, [])

    chunks = [readers[i::workers] for i in range(workers) if readers[i::workers]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return {label: snap for got in pool.map(part, chunks) for label, snap in got.items()}


def run_noninterference(
    dsn: str,
    mw: MatrixWorld,
    changes: Sequence[InvisibleChange],
    schemas: Sequence[str],
    workers: int = 2,
) -> NonInterferenceRun:
    """Every change against the snapshots of its blind viewers; the world at `dsn` is `mw`'s."""
    started = time.perf_counter()
    with connect(dsn, autocommit=True) as conn:
        samples = argument_samples(mw)
        readers = {label: reader(conn, label, v, schemas, samples)
                   for label, v in matrix_viewers(mw).items()}
        keys = {rel: tuple(cols) for rel, cols in
                conn.execute(PRIMARY_KEYS, [list(schemas)]).fetchall()}
    base = _base_snapshots(dsn, list(readers.values()), workers)
    who = {str(user_id): name for user_id, name in names(mw).items()}

    def work(chunk: Sequence[InvisibleChange]) -> tuple[list[Difference], list[str]]:
        diffs: list[Difference] = []
        refused: list[str] = []
        with connect(dsn) as conn:
            # Each viewer's digest planned once on this connection, run after every change.
            listed = list(readers.values())
            prepared = prepare(conn, listed, "soberharness_ni_")
            conn.commit()
            statements = {r.label: f"EXECUTE {name}".encode()
                          for r, name in zip(listed, prepared, strict=True)}
            for ic in chunk:
                try:
                    diffs += [_named(d, who) for d in
                              _judge_change(conn, ic, readers, base, keys, statements)]
                except Refused:
                    refused.append(ic.change.change.label)
        return diffs, refused

    chunks = [list(changes[i::workers]) for i in range(workers)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(work, chunks))
    return NonInterferenceRun(
        [d for diffs, _ in parts for d in diffs], len(changes),
        sum(len(ic.blind) for ic in changes), [c for _, refused in parts for c in refused],
        time.perf_counter() - started)
