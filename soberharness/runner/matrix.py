"""The access matrix run: each cell run in the database as PostgREST would run it, judged
(soberharness.checker.matrix) against the independent access model."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import queue
import threading
import time
from collections.abc import Collection, Sequence

import psycopg
from psycopg import sql

from soberharness.checker.matrix import ExpectationCache, allowed, detail
from soberharness.checker.row_after_write import drifts
from soberharness.clients.postgrest_sql import (
    Request,
    request_parts,
    setting_pairs,
    settings_statement,
    token_of,
)
from soberharness.db import session as db_session
from soberharness.db import sql as rows
from soberharness.records.noninterference import RowDrift
from soberharness.records.outcome import Outcome
from soberharness.records.progress import Progress
from soberharness.records.results import Cell, CellResult, Op
from soberharness.runner import batched
from soberharness.runner.pipelined import Answered, run_batch
from soberharness.runner.row_after_write import (
    ReadBack,
    RowCheck,
    checked_parts,
    read_back,
    row_check,
)
from soberharness.workload.matrix_cases import Action, Case, Ctx, cells
from soberharness.world.entities import Bucket, Entity, StoredObject, User
from soberharness.world.matrix_world import MatrixWorld


@dataclasses.dataclass
class MatrixRun:
    results: list[CellResult]
    seconds: float
    # The rows allowed writes left that differ from the model's, and refused writes that
    # changed their table (soberharness.checker.row_after_write).
    drifts: list[RowDrift] = dataclasses.field(default_factory=list)

    @property
    def mismatches(self) -> list[CellResult]:
        return [r for r in self.results if not r.ok]

    @property
    def rate(self) -> float:
        return len(self.results) / self.seconds if self.seconds else 0.0


def _path(entity: Entity) -> str:
    if isinstance(entity, StoredObject):
        return f"/storage/v1/object/{entity.bucket}/{entity.name}"
    if isinstance(entity, Bucket):
        return f"/storage/v1/bucket/{entity.id}"
    return f"/rest/v1/{rows.row_of(entity).table}"


_METHOD = {Op.SELECT: "GET", Op.INSERT: "POST", Op.UPDATE: "PATCH", Op.DELETE: "DELETE"}


def setup_statements(action: Action) -> list[sql.Composable]:
    """Superuser statements turning the seeded world into the world the action needs."""
    out: list[sql.Composable] = [rows.delete(rows.row_of(e)) for e in action.removed]
    for entity in action.added:
        if isinstance(entity, User) and not entity.has_profile:
            out.append(rows.delete(rows.row_of(entity)))
        else:
            out.append(rows.insert(rows.row_of(entity)))
    return out


def request_for(action: Action) -> Request:
    target = rows.row_of(action.target)
    match action.op:
        case Op.SELECT:
            query: sql.Composable = rows.select_one(target)
        case Op.INSERT:
            query = rows.insert(target)
        case Op.UPDATE:
            assert action.after is not None
            query = rows.update(target, rows.row_of(action.after))
        case Op.DELETE:
            query = rows.delete(target)
    return Request(query, _METHOD[action.op], _path(action.target), setup_statements(action))


@dataclasses.dataclass(frozen=True)
class PlannedCell:
    cell: Cell
    op: Op
    statements: tuple[bytes, ...]  # the request's, each rendered alone: begin ... end
    setup_statements: int  # statements before the request's settings, after BEGIN
    expected: bool
    check: RowCheck | None = None  # a write: the superuser reads the row back (statements have it)
    # The settings statement's (name, value) pairs (soberharness.runner.batched sets them).
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> bytes:
        """The request as one simple-protocol string (RequestRunner.execute sends it)."""
        return b";\n".join(self.statements)


@dataclasses.dataclass(frozen=True)
class _Parts:
    """What every cell sending one action shares."""

    head: tuple[bytes, ...]  # begin, setup (and the read-back's counts)
    tail: tuple[bytes, ...]  # the query (and the read-back), the end
    method: str
    path: str
    check: RowCheck | None


class _Planner:
    """Renders cells one at a time, reusing what cells sending the same action share, and the
    settings of cells sent by the same actor (token and owner) to the same path."""

    def __init__(self, mw: MatrixWorld) -> None:
        self.cache = ExpectationCache(mw.world)
        self.parts: dict[Action, _Parts] = {}  # many cells send the same statement
        self.settings: dict[tuple[object, ...], tuple[bytes, tuple[tuple[str, str], ...]]] = {}
        self.tokens: dict[tuple[object, ...], tuple[str, str]] = {}  # role, claims as JSON

    def _parts(self, action: Action) -> _Parts:
        found = self.parts.get(action)
        if found is None:
            request = request_for(action)
            check = row_check(action)
            head, tail = (request_parts(request) if check is None
                          else checked_parts(request, action))
            found = self.parts[action] = _Parts(head, tail, request.method, request.path, check)
        return found

    def _settings(self, ctx: Ctx, method: str, path: str
                  ) -> tuple[bytes, tuple[tuple[str, str], ...]]:
        # ctx.claims() depends on the viewer, its token and the owner's privacy alone (and the
        # clock: the tokens of one run are minted when first used).
        token = (ctx.viewer, ctx.token, ctx.privacy)
        read = self.tokens.get(token)
        if read is None:
            read = self.tokens[token] = token_of(ctx.viewer, claims=ctx.claims())
        key = (read, method, path)  # many tokens read the same (the owner's privacy aside)
        found = self.settings.get(key)
        if found is None:
            pairs = tuple(setting_pairs(*read, method, path))
            found = self.settings[key] = (settings_statement(pairs), pairs)
        return found

    def one(self, cell: Cell, ctx: Ctx, case: Case) -> PlannedCell:
        action = case.build(ctx)
        parts = self._parts(action)
        settings, pairs = self._settings(ctx, parts.method, parts.path)
        statements = (*parts.head, settings, *parts.tail)
        return PlannedCell(cell, action.op, statements, len(parts.head) - 1,
                           self.cache.expected(ctx, action), parts.check, pairs)


def _listed(
    mw: MatrixWorld, tables: Collection[str] | None
) -> list[tuple[Cell, Ctx, Case]]:
    """Every cell (of `tables`, when given), not yet rendered (cheap)."""
    return [c for c in cells(mw) if tables is None or c[0].table in tables]


def plan(mw: MatrixWorld, tables: Collection[str] | None = None) -> list[PlannedCell]:
    """Every cell (of `tables`, when given) with its rendered request and the model's verdict,
    before anything runs."""
    planner = _Planner(mw)
    return [planner.one(*c) for c in _listed(mw, tables)]


# Cells run concurrently on one database; two cells may deadlock on the same rows (the
# harness's own doing, not the stack's): such a cell is run again.
RETRY_STATES = ("40P01", "40001")
RETRY_PAUSE_S = 0.01
# Cells sent to the server in one round trip (soberharness.runner.pipelined); each is still its
# own transaction.
BATCH = 32
# Cells sent in one server-side call when the batched executor runs (soberharness.runner.batched).
BATCHED = 64


def _judged(p: PlannedCell, answered: Answered) -> tuple[Outcome, ReadBack | None]:
    """The cell's outcome (as RequestRunner.execute gives it) and, for a checked cell whose
    request ran without error, its read-back."""
    if answered.error is not None:
        return Outcome([], 0, answered.error), None
    results = answered.results
    query = results[p.setup_statements + 2]  # begin, setup..., settings, query
    outcome = Outcome(list(query.rows), query.rowcount)
    if p.check is None:
        return outcome, None
    return outcome, read_back([r.rows for r in results], p.setup_statements)


def execute_batch(
    conn: psycopg.Connection, batch: Sequence[PlannedCell], tries: int = 5
) -> list[tuple[Outcome, ReadBack | None]]:
    """Run the cells in one round trip on `conn` (autocommit); a cell that deadlocked with
    another worker's (RETRY_STATES) is run again, alone, up to `tries` times in all, a little
    later each time (the other worker's batch moves on meanwhile)."""
    out = [_judged(p, a) for p, a in zip(batch, run_batch(conn, [p.statements for p in batch]),
                                          strict=True)]
    for i, p in enumerate(batch):
        for attempt in range(1, tries):
            error = out[i][0].error
            if not (error and error.startswith(RETRY_STATES)):
                break
            time.sleep(RETRY_PAUSE_S * attempt)
            out[i] = _judged(p, run_batch(conn, [p.statements])[0])
    return out


def _back(p: PlannedCell, seen: batched.Observed) -> tuple[Outcome, ReadBack | None]:
    if p.check is None or seen.read_back is None:
        return seen.outcome, None
    before, after, checked = seen.read_back
    return seen.outcome, read_back([[(before,)], [(after,)], [(checked,)], []], 0)


def execute_batched(
    conn: psycopg.Connection, batch: Sequence[PlannedCell], tries: int = 5
) -> list[tuple[Outcome, ReadBack | None]]:
    """Run the cells in one server-side call (soberharness.runner.batched); the whole batch the
    pipelined way when the call itself failed, and a cell that deadlocked with the other
    worker's again alone the pipelined way, as `execute_batch` does: `tries` in all, the
    server-side call counting as the first."""
    shapes = [batched.shape(p.statements, p.setup_statements,
                            None if p.check is None else p.check.relation, p.settings)
              for p in batch]
    seen = batched.run(conn, [p.op for p in batch], shapes)
    if seen is None:
        return execute_batch(conn, batch, tries)
    out = [_back(p, s) for p, s in zip(batch, seen, strict=True)]
    for i, p in enumerate(batch):
        error = out[i][0].error
        if tries > 1 and error and error.startswith(RETRY_STATES):
            time.sleep(RETRY_PAUSE_S)
            out[i] = execute_batch(conn, [p], tries - 1)[0]
    return out


def _drifts(p: PlannedCell, actual: bool, back: ReadBack | None) -> list[RowDrift]:
    if p.check is None or back is None:
        return []
    return drifts(p.cell.label(), p.check.relation, p.op.value, p.check.expected,
                  p.expected, actual, back)


class _Counter:
    """Cells done across the workers, told to `progress` in order (under a lock, so the counts
    it sees never go down)."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.progress, self.done = total, progress, 0
        self.lock = threading.Lock()

    def one_more(self) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.done += 1
            self.progress(self.done, self.total)


def _planned_into(
    mw: MatrixWorld, listed: Sequence[tuple[Cell, Ctx, Case]], into: queue.SimpleQueue[
        list[PlannedCell] | None], workers: int, size: int = BATCH
) -> None:
    """Render the cells into the queue in batches as the workers run them (rendering overlaps
    the database's work), then one end mark per worker."""
    planner = _Planner(mw)
    try:
        batch: list[PlannedCell] = []
        for c in listed:
            batch.append(planner.one(*c))
            if len(batch) == size:
                into.put(batch)
                batch = []
        if batch:
            into.put(batch)
    finally:
        for _ in range(workers):
            into.put(None)


def run_matrix(
    dsn: str,
    mw: MatrixWorld,
    workers: int = 2,
    progress: Progress | None = None,
    tables: Collection[str] | None = None,
    server_batches: bool = True,
) -> MatrixRun:
    """Run every cell (of `tables`, when given) against the database at `dsn`, which holds
    `mw.world`, telling `progress` (when given) the cells done of the total after each.
    Cells are rendered while the first ones run: each worker takes the next rendered batch
    and sends it in one round trip (soberharness.runner.pipelined) or, with `server_batches`
    and where the server lets a session create a pg_temp function, in one server-side call
    (soberharness.runner.batched)."""
    started = time.perf_counter()
    listed = _listed(mw, tables)
    order = {c[0]: i for i, c in enumerate(listed)}
    todo: queue.SimpleQueue[list[PlannedCell] | None] = queue.SimpleQueue()
    done = _Counter(len(listed), progress)

    def work() -> tuple[list[CellResult], list[RowDrift]]:
        out: list[CellResult] = []
        drifted: list[RowDrift] = []
        with db_session.connect(dsn, autocommit=True) as conn:
            execute = (execute_batched if server_batches and batched.install(conn)
                       else execute_batch)
            while (batch := todo.get()) is not None:
                began = time.perf_counter()
                answers = execute(conn, batch)
                share = (time.perf_counter() - began) / len(batch)  # the batch's time, shared
                for p, (outcome, back) in zip(batch, answers, strict=True):
                    actual = allowed(p.op, outcome)
                    out.append(CellResult(p.cell, p.expected, actual, detail(p.op, outcome),
                                          share))
                    drifted += _drifts(p, actual, back)
                    done.one_more()
        return out, drifted

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers + 1) as pool:
        running = [pool.submit(work) for _ in range(workers)]
        planning = pool.submit(_planned_into, mw, listed, todo, workers,
                               BATCHED if server_batches else BATCH)
        parts = [f.result() for f in running]
        planning.result()
    seconds = time.perf_counter() - started
    results = sorted((r for part, _ in parts for r in part), key=lambda r: order[r.cell])
    return MatrixRun(results, seconds, sorted(
        (d for _, part in parts for d in part), key=lambda d: (d.cell, d.column)))
