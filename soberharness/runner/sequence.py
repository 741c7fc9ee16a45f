"""Sequences of committed actions, run: each step's requests run as PostgREST runs them (one
transaction, role switch, claims) and are COMMITTED; after the step one read-only transaction
reads the database's rows of the sequence's users (as the superuser sees them) and every
viewer's reads. What was observed is judged by soberharness.checker.sequence; the first step
with a finding raises SequenceFailure with the steps so far (a replayable steps file, see
soberharness.records.steps).
"""

from __future__ import annotations

import collections
import dataclasses
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from soberharness.access.model import key_of
from soberharness.access.transitions import Row, SequenceState, StepWrite, TransitionModel
from soberharness.checker.sequence import (
    TABLES,
    SentWrite,
    Snapshot,
    StepRun,
    check,
    model_rows,
)
from soberharness.checker.step_blindness import BlindRead, blind_viewers
from soberharness.clients.postgrest_sql import request_parts, request_settings
from soberharness.db.sql import LIST_KEYS, auth_user_row, insert
from soberharness.records.noninterference import Snapshot as Digests
from soberharness.records.outcome import Outcome
from soberharness.records.steps import NOBODY, USERS, Step
from soberharness.runner.chained import Chain, run_chain, typed
from soberharness.runner.noninterference import Reader, prepare, reader, snapshots_prepared
from soberharness.runner.pipelined import Answered, Result
from soberharness.workload.step_requests import request_of
from soberharness.workload.steps import Names, initial_world, writes_of
from soberharness.world.entities import Role, Viewer
from soberharness.world.tables import BY_NAME, CLEAN_ORDER, READ

READ_KEYS = LIST_KEYS  # the keys each viewer reads, per table (deletion requests too)
assert tuple(READ_KEYS) == TABLES, "the runner reads the tables the checker judges"
DIGEST_PREFIX = "soberharness_digest_"  # the viewers' digest statements, prepared
PREPARED_PREFIX = "soberharness_"  # the runner's reads, prepared


def _array(values: Iterable[uuid.UUID]) -> sql.Composable:
    return sql.SQL("{}::uuid[]").format(sql.Literal([str(v) for v in values]))


def _dump_queries(pool: sql.Composable, folders: sql.Composable) -> dict[str, sql.Composable]:
    """Per table the superuser's SELECT of the sequence's rows (world.tables' `dump`)."""
    return {t.name: sql.SQL(t.dump).format(pool=pool, folders=folders)  # type: ignore[arg-type]
            for t in READ}


# Per table read (in READ_KEYS order): is its key one column (else two)?
_SINGLE = [len(BY_NAME[t].key_columns) == 1 for t in READ_KEYS]
assert all(len(BY_NAME[t].key_columns) in (1, 2) for t in READ_KEYS), "keys of one or two columns"


def _keys_query() -> sql.Composable:
    """A viewer's reads of every table as one statement: each table's keys query (READ_KEYS)
    as it stands, its rows tagged with the table's number, a one-column key padded to two."""
    return sql.SQL(" UNION ALL ").join(
        sql.SQL(f"SELECT {t} AS t, q.*{', NULL' if single else ''} FROM ({query}) q")
        for t, (single, query) in enumerate(zip(_SINGLE, READ_KEYS.values(), strict=True)))


def _deallocate(conn: psycopg.Connection, prefix: str) -> None:
    """Drop the session's prepared statements whose names start with `prefix`."""
    for (name,) in conn.execute(
        "select name from pg_catalog.pg_prepared_statements where starts_with(name, %s)",
        [prefix]).fetchall():
        conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(name)))


def _entity(table: str, r: tuple[Any, ...], moderators: set[uuid.UUID]) -> Row:
    read = BY_NAME[table].from_dump
    assert read is not None
    return read(r, moderators)  # type: ignore[no-any-return]


class SequenceRunner:
    """Runs steps on one database, committing each, and checks the state after each."""

    def __init__(
        self,
        conn: psycopg.Connection,
        names: Names | None = None,
        schemas: Sequence[str] | None = None,
    ) -> None:
        """`schemas` (the exposed schemas) turns non-interference on: after each step every
        viewer's readable snapshot of them is digested, and the viewers the model says cannot
        see the step must read it unchanged (soberharness.checker.step_blindness)."""
        if not conn.autocommit:
            raise ValueError("SequenceRunner needs an autocommit connection")
        self.conn = conn
        conn.execute("SET statement_timeout = '30s'")  # a hung statement fails the step
        # The runner prepares its reads by name; psycopg's own preparing is off on the
        # connection (psycopg deallocates every statement of the session on a ROLLBACK while
        # it holds some of its own).
        conn.prepare_threshold = None
        self._statements: set[str] = set()
        _deallocate(conn, PREPARED_PREFIX)  # an earlier runner's on this connection
        self.names = names or Names()
        self._load = typed(conn)
        self.viewers = self.names.viewers()
        self.pool = [self.names.id(u) for u in USERS]
        self.moderators = {self.names.id(u) for u in USERS if u.startswith("m")}
        self.steps_run = 0
        self.tally: collections.Counter[tuple[str, bool]] = collections.Counter()
        self.state = initial_world(self.names)
        self.steps: list[Step] = []
        self.snapshot = Snapshot({t: set() for t in TABLES}, {})
        self._read_text: list[bytes] | None = None
        self._dump_text: list[bytes] | None = None
        self._read_made = 0.0
        self.schemas = schemas
        self._readers: dict[Viewer, Reader] = {}
        self._readers_made = 0.0
        self._prepared: list[str] = []
        self.digests: dict[Viewer, Digests] = {}
        self._pending: _Pending | None = None
        self._settings_text: dict[tuple[Viewer, str, str], bytes] = {}
        self._rendered: dict[StepWrite, _Rendered] = {}
        self._settings_made = 0.0

    # ------------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Remove what earlier sequences left and sign the pool up again (no profiles)."""
        self.clean()
        statements = [insert(auth_user_row(u)) for u in initial_world(self.names).world
                      .users.values()]
        self.conn.execute(sql.SQL(";\n").join(
            [sql.SQL("BEGIN"), *statements, sql.SQL("COMMIT")]).as_bytes(self.conn))
        self.state = initial_world(self.names)
        self.steps = []
        self.snapshot = self.read()
        self.digests = self._digests()

    def clean(self) -> None:
        """Delete every row of the pool's users, children first (so that a stack's triggers
        see ordinary deletes, not cascades), every object in their folders (and in the
        run's folder that names nobody), then the users."""
        self.settle()
        pool, folders = _array(self.pool), self._folders()
        statements = [
            # As the Storage API does: the storage schema refuses a DELETE without it.
            sql.SQL("SELECT set_config('storage.allow_delete_query', 'true', true)"),
            *(sql.SQL(BY_NAME[name].clean).format(pool=pool, folders=folders)  # type: ignore[arg-type]
              for name in CLEAN_ORDER),
        ]
        self.conn.execute(sql.SQL(";\n").join(
            [sql.SQL("BEGIN"), *statements, sql.SQL("COMMIT")]).as_bytes(self.conn))

    def _folders(self) -> sql.Composable:
        folders = [self.names.folder(u) for u in USERS] + [self.names.folder(NOBODY)]
        return sql.SQL("{}::text[]").format(sql.Literal(folders))

    # ---------------------------------------------------------------------------- steps

    def run(self, step: Step) -> None:
        """Commit the step's requests, then check; raise SequenceFailure on any finding."""
        check(self.observe(step), self.names, self.viewers)

    def observe(self, step: Step) -> StepRun:
        """Commit the step's requests (each judged by the model before it is sent, so the
        model's state follows the writes it allows) and read the database back, all in one
        round trip while nothing fails (see `send` and `collect`)."""
        self.send(step)
        return self.collect()

    @property
    def in_flight(self) -> bool:
        """A step sent (`send`) and not collected yet."""
        return self._pending is not None

    def prepare(self, step: Step) -> Prepared:
        """Judge the step's writes by the model (each before the next, so the model's state
        follows the writes it allows) and render its requests; the database is not touched,
        so a step can be prepared while the one before it is in flight."""
        viewer, writes = writes_of(step, self.state, self.names)
        judged: list[tuple[StepWrite, bool]] = []
        any_allowed = False
        state = self.state
        written: list[Row] = []
        for write in writes:
            model = TransitionModel(state)
            expected = model.allowed(viewer, write)
            judged.append((write, expected))
            if expected:
                state = model.after(write)
                any_allowed = True
                written += [write.target] + ([write.after] if write.after else [])
        # The viewers' reads go with the step when the model's rows change (the database's
        # then change too, unless that is the step's finding).
        changes = any_allowed and model_rows(state) != model_rows(self.state)
        return Prepared(step, judged, self.state, state, written, any_allowed,
                        [self._request(viewer, write) for write, _ in judged], changes)

    def send(self, step: Step | Prepared) -> None:
        """Send the step (prepared by `prepare` unless it is already), with the read back,
        without waiting: `collect` reads the answers (nothing else may use the connection
        before). The model's state is the step's after already, so the next step can be drawn
        and prepared while the server works."""
        if self._pending is not None:
            raise RuntimeError("a step is in flight: collect it before sending the next")
        p = step if isinstance(step, Prepared) else self.prepare(step)
        if p.state_before is not self.state:
            raise RuntimeError("the step was prepared against another state than the model's")
        self.steps.append(p.step)
        self.steps_run += 1
        self.tally[(p.step.verb, p.any_allowed)] += 1
        self.state = p.state
        chain = self._start(p.requests, p.changes, digests=True)
        # While the server runs the step: what the model lets each viewer read after it (the
        # checker compares the viewers' reads with it when a write went through).
        model = TransitionModel(p.state)
        reads = {v: model.visible(v) for v in self.viewers} if p.any_allowed else None
        self._pending = _Pending(tuple(self.steps), p, chain, reads)

    def collect(self) -> StepRun:
        """What the step sent last observed: its requests' outcomes and the database read
        back after it (see `_round_trip`)."""
        p, self._pending = self._pending, None
        if p is None:
            raise RuntimeError("no step in flight")
        step, before = p.step, self.snapshot
        outcomes, self.snapshot = self._finish(p.chain, step.requests, before, step.changes)
        sent = tuple(SentWrite(w, e, o) for (w, e), o in zip(step.judged, outcomes, strict=True))
        answers = p.chain.answers()  # read already: the digests, when they went with the step
        digests = answers[len(step.requests) + 2] if len(answers) > len(step.requests) + 2 else None
        return StepRun(p.steps, sent, before, self.snapshot, step.state, step.any_allowed,
                       self._blind_reads(step.state_before, step.state, step.written,
                                         self.snapshot is not before or step.any_allowed,
                                         digests),
                       p.model_reads)

    def settle(self) -> None:
        """Read the answers of a step still in flight and drop them (a sequence that ended
        with an error elsewhere), so that the connection is free again."""
        if self._pending is not None:
            self._pending, pending = None, self._pending
            if not self.conn.closed:  # a chain that failed closed it: nothing left to read
                pending.chain.answers()

    # ------------------------------------------------------------------ non-interference

    def _blind_reads(
        self, state_before: SequenceState, state_after: SequenceState, written: list[Row],
        changed: bool, sent: Answered | None = None,
    ) -> tuple[BlindRead, ...]:
        """Every viewer's digests after the step (kept for the next); for the viewers the
        model says cannot see the step, their digests before and after. A step whose writes
        were all refused and after which the sequence's rows are the same is not read again
        (each refused request rolled back; what it left, the matrix's read-back judges).
        `sent`: the digests' answer when they went with the step (read again when it failed
        or they did not)."""
        if self.schemas is None or not changed:
            return ()
        was = self.digests
        self.digests = (self._digests_of(sent.results) if sent is not None and sent.error is None
                        else self._digests())
        blind = blind_viewers(state_before.world, state_after.world, self.viewers, written)
        return tuple(BlindRead(v, was[v], self.digests[v]) for v in blind if v in was)

    def _digests(self) -> dict[Viewer, Digests]:
        """Every viewer's readable snapshot of the exposed schemas (digests), one round trip.
        Not the service role's: it reads every row, so a step that changed anything it did not
        write is a step whose rows differ from the model's (the state check's finding)."""
        if self.schemas is None:
            return {}
        self._ensure_readers()
        got = snapshots_prepared(self.conn, list(self._readers.values()), self._prepared)
        return {v: got[r.label] for v, r in self._readers.items()}

    def _ensure_readers(self) -> None:
        """The viewers' readers listed and their digest statements prepared (again every ten
        minutes)."""
        if self.schemas is not None and (
                not self._readers or time.monotonic() - self._readers_made > 600):
            self._readers = {v: reader(self.conn, str(i), v, self.schemas)
                             for i, v in enumerate(self.viewers) if v.role is not Role.SERVICE}
            self._prepared = prepare(self.conn, list(self._readers.values()), DIGEST_PREFIX)
            self._readers_made = time.monotonic()

    def _digest_request(self) -> list[bytes]:
        """The viewers' digests as one read-only transaction, as `snapshots_prepared` sends it:
        per viewer its settings, then its prepared digest statement."""
        self._ensure_readers()
        return [b"BEGIN READ ONLY",
                *(part for r, name in zip(self._readers.values(), self._prepared, strict=True)
                  for part in (r.settings, f"EXECUTE {name}".encode())),
                b"ROLLBACK"]

    def _digests_of(self, results: list[Result]) -> dict[Viewer, Digests]:
        """The digests' answer (BEGIN, then per viewer: settings, digest rows) per viewer."""
        return {v: dict(results[2 + 2 * i].rows) for i, v in enumerate(self._readers)}

    def replay(self, steps: Iterable[Step]) -> None:
        self.reset()
        for step in steps:
            self.run(step)

    # -------------------------------------------------------------------------- reading

    def read(self, previous: Snapshot | None = None) -> Snapshot:
        """The superuser's rows of the sequence, then each viewer's keys. When the rows are
        those of `previous`, so are the reads (they depend on the rows alone): not re-read."""
        return self._round_trip([], previous, previous is None or not previous.seen)[1]

    def _round_trip(
        self, requests: list[RequestText], previous: Snapshot | None, rows_change: bool
    ) -> tuple[list[Outcome], Snapshot]:
        return self._finish(self._start(requests, rows_change), requests, previous, rows_change)

    def _start(self, requests: list[RequestText], rows_change: bool, digests: bool = False
               ) -> Chain:
        """The chain on its way: the requests, the dump, the viewers' reads when `rows_change`
        and then, when `digests` too, the viewers' digests (non-interference)."""
        dump, reads = self._dump_request(), self._read_request()
        batch = [r.statements for r in requests] + [dump] + ([reads] if rows_change else [])
        if rows_change and digests and self.schemas is not None:
            batch.append(self._digest_request())
        return Chain(self.conn, batch, self._load)

    def _finish(
        self, chain: Chain, requests: list[RequestText], previous: Snapshot | None,
        rows_change: bool,
    ) -> tuple[list[Outcome], Snapshot]:
        """Send the requests (each its own transaction, committed; an error ends only its
        own), then the superuser's read of the sequence's rows and, when `rows_change` (the
        model expects them to), every viewer's reads: one message while nothing fails
        (soberharness.runner.chained). When the rows turn out to be those of `previous`, the
        reads are `previous`'s (they depend on the rows alone); when the rows changed although
        the model expected no change, the viewers' reads follow in a second round trip."""
        answers = chain.answers()
        outcomes = [_outcome(r, a) for r, a in zip(requests, answers, strict=False)]
        rows = self._rows(_answered(answers[len(requests)], "the superuser's read"))
        if previous is not None and previous.seen and rows == previous.rows:
            return outcomes, previous
        seen = answers[len(requests) + 1] if rows_change else run_chain(
            self.conn, [self._read_request()], self._load)[0]
        return outcomes, Snapshot(rows, self._seen(rows, _answered(seen, "the viewers' reads")))

    def _rows(self, results: list[Result]) -> dict[str, set[Row]]:
        """The dump's results (BEGIN, one per table, COMMIT) as entities, per table."""
        return {table: {_entity(table, r, self.moderators) for r in result.rows}
                for table, result in zip(TABLES, results[1:], strict=False)}

    def _seen(self, rows: dict[str, set[Row]], results: list[Result]) -> dict[
            Viewer, dict[str, set[Any]]]:
        """Each viewer's keys of the sequence's rows, per table, from the read transaction's
        results (BEGIN, then per viewer: settings, its keys of every table (table number,
        key), SET LOCAL ROLE NONE)."""
        ours = {t: {key_of(r) for r in rs} for t, rs in rows.items()}
        seen: dict[Viewer, dict[str, set[Any]]] = {}
        for n, viewer in enumerate(self.viewers):
            keys: list[set[Any]] = [set() for _ in READ_KEYS]
            for t, first, second in results[2 + 3 * n].rows:
                keys[t].add(first if _SINGLE[t] else (first, second))
            # A shared database holds others' rows: only the sequence's are judged.
            seen[viewer] = {table: keys[t] & ours[table] for t, table in enumerate(READ_KEYS)}
        return seen

    def _request(self, viewer: Viewer, write: StepWrite) -> RequestText:
        """A write's request as PostgREST sends it, statement by statement (the write's
        statements rendered once: a search sends the same write many times)."""
        rendered = self._rendered.get(write)
        if rendered is None:
            if len(self._rendered) > 10_000:  # a long search: keep the memory bounded
                self._rendered.clear()
            request = request_of(write)
            head, tail = request_parts(request, commit=True)
            rendered = self._rendered[write] = _Rendered(
                head, tail, request.method, request.path, len(request.setup))
        settings = self._settings(viewer, rendered.method, rendered.path)
        return RequestText((*rendered.head, settings, *rendered.tail), rendered.setup)

    def _settings(self, viewer: Viewer, method: str, path: str) -> bytes:
        """The settings statement of a request, rendered once per caller, method and path (its
        token is renewed every minute)."""
        if time.monotonic() - self._settings_made > 60:
            self._settings_text.clear()
            self._settings_made = time.monotonic()
        key = (viewer, method, path)
        text = self._settings_text.get(key)
        if text is None:
            text = self._settings_text[key] = request_settings(viewer, method, path).as_bytes(None)
        return text

    def _dump_request(self) -> list[bytes]:
        """The superuser's SELECTs of the sequence's rows, each prepared once."""
        if self._dump_text is None:
            dump = _dump_queries(_array(self.pool), self._folders())
            names = [self._prepare(f"dump_{i}", dump[t]) for i, t in enumerate(TABLES)]
            self._dump_text = [b"BEGIN READ ONLY", *(f"EXECUTE {n}".encode() for n in names),
                               b"COMMIT"]
        return self._dump_text

    def _prepare(self, name: str, query: sql.Composable) -> str:
        """`query` prepared on the connection as `soberharness_<name>` (once): a statement run
        after every step is planned once. A statement run as an API role is planned as that
        role when it first runs as it (PostgreSQL plans row security into the plan and plans
        again under another role), so each role has its own."""
        full = f"{PREPARED_PREFIX}{name}"
        if full not in self._statements:
            self.conn.execute(sql.SQL("PREPARE {} AS {}").format(sql.Identifier(full), query))
            self._statements.add(full)
        return f'"{full}"'

    def _read_request(self) -> list[bytes]:
        """The read transaction, rendered once (its tokens are renewed every ten minutes)."""
        if self._read_text is None or time.monotonic() - self._read_made > 600:
            parts: list[bytes] = [b"BEGIN READ ONLY"]
            for viewer in self.viewers:
                parts.append(request_settings(viewer, "GET", "/rest/v1/").as_bytes(None))
                keys = self._prepare(f"read_{viewer.role.value}", _keys_query())
                parts += [f"EXECUTE {keys}".encode(), b"SET LOCAL ROLE NONE"]
            parts.append(b"ROLLBACK")
            self._read_text = parts
            self._read_made = time.monotonic()
        return self._read_text


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A step judged by the model and rendered, not sent yet (SequenceRunner.prepare)."""

    step: Step
    judged: list[tuple[StepWrite, bool]]  # each write and the model's verdict before it
    state_before: SequenceState
    state: SequenceState  # the model's state after the step
    written: list[Row]
    any_allowed: bool
    requests: list[RequestText]
    changes: bool  # the model's rows change (the viewers' reads go with the step)


@dataclasses.dataclass(frozen=True)
class _Pending:
    """A step sent and not collected yet: the sequence so far, the step, its chain."""

    steps: tuple[Step, ...]
    step: Prepared
    chain: Chain
    model_reads: dict[Viewer, dict[str, set[Any]]] | None  # TransitionModel.visible, per viewer


@dataclasses.dataclass(frozen=True)
class _Rendered:
    """A write's request rendered, but for its settings (the caller's)."""

    head: tuple[bytes, ...]  # begin, setup
    tail: tuple[bytes, ...]  # the query, the end
    method: str
    path: str
    setup: int


@dataclasses.dataclass(frozen=True)
class RequestText:
    """A request's statements (begin, setup, settings, query, end) and how many are setup."""

    statements: tuple[bytes, ...]
    setup: int


def _outcome(request: RequestText, answered: Answered) -> Outcome:
    """A request's outcome as RequestRunner.execute gives it: the query's rows and count."""
    if answered.error is not None:
        return Outcome([], 0, answered.error)
    query = answered.results[request.setup + 2]
    return Outcome(query.rows, query.rowcount)


def _answered(answered: Answered, what: str) -> list[Result]:
    """The results of one of the runner's own reads (an error there is no finding: raise)."""
    if answered.error is not None:
        raise psycopg.DatabaseError(f"{what} failed: {answered.error}")
    return answered.results
