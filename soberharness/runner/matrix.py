"""The access matrix run: each cell run in the database as PostgREST would run it, judged
(soberharness.checker.matrix) against the independent access model."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import queue
import threading
import time
from collections.abc import Collection, Sequence

from psycopg import sql

from soberharness.checker.matrix import ExpectationCache, allowed, detail
from soberharness.checker.row_after_write import drifts
from soberharness.clients.postgrest_sql import Request, RequestRunner, render
from soberharness.db import session as db_session
from soberharness.db import sql as rows
from soberharness.records.noninterference import RowDrift
from soberharness.records.outcome import Outcome
from soberharness.records.progress import Progress
from soberharness.records.results import Cell, CellResult, Op
from soberharness.runner.row_after_write import (
    ReadBack,
    RowCheck,
    checked_parts,
    execute_checked,
    render_checked,
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
    text: bytes  # the request, rendered
    setup_statements: int  # statements before the request's settings, after BEGIN
    expected: bool
    check: RowCheck | None = None  # a write: the superuser reads the row back (text has it)


def _prerendered(request: Request) -> Request:
    """The same request with its statements rendered once (cells reuse them)."""
    def text(part: sql.Composable) -> sql.SQL:
        return sql.SQL(part.as_bytes(None).decode())

    return dataclasses.replace(
        request, query=text(request.query), setup=[text(p) for p in request.setup]
    )


class _Planner:
    """Renders cells one at a time, reusing what cells sending the same action share."""

    def __init__(self, mw: MatrixWorld) -> None:
        self.cache = ExpectationCache(mw.world)
        self.requests: dict[Action, Request] = {}  # many cells send the same statement
        self.parts: dict[Action, tuple[bytes, bytes]] = {}

    def one(self, cell: Cell, ctx: Ctx, case: Case) -> PlannedCell:
        action = case.build(ctx)
        request = self.requests.get(action)
        if request is None:
            request = self.requests[action] = _prerendered(request_for(action))
        check = row_check(action)
        if check is None:
            text = render(ctx.viewer, request, claims=ctx.claims())
        else:
            if action not in self.parts:
                self.parts[action] = checked_parts(request, action)
            text = render_checked(ctx.viewer, request, self.parts[action], ctx.claims())
        setup = len(request.setup) + (0 if check is None else 1)  # the digests
        return PlannedCell(cell, action.op, text, setup, self.cache.expected(ctx, action), check)


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


def _execute(
    runner: RequestRunner, p: PlannedCell, tries: int = 3
) -> tuple[Outcome, ReadBack | None]:
    outcome, back = _once(runner, p)
    for _ in range(tries - 1):
        if not (outcome.error and outcome.error.startswith(RETRY_STATES)):
            break
        outcome, back = _once(runner, p)
    return outcome, back


def _once(runner: RequestRunner, p: PlannedCell) -> tuple[Outcome, ReadBack | None]:
    if p.check is None:
        return runner.execute(p.text, p.setup_statements), None
    return execute_checked(runner.conn, p.text, p.setup_statements)


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
        PlannedCell | None], workers: int
) -> None:
    """Render the cells into the queue as the workers run them (rendering overlaps the
    database's work), then one end mark per worker."""
    planner = _Planner(mw)
    try:
        for c in listed:
            into.put(planner.one(*c))
    finally:
        for _ in range(workers):
            into.put(None)


def run_matrix(
    dsn: str,
    mw: MatrixWorld,
    workers: int = 2,
    progress: Progress | None = None,
    tables: Collection[str] | None = None,
) -> MatrixRun:
    """Run every cell (of `tables`, when given) against the database at `dsn`, which holds
    `mw.world`, telling `progress` (when given) the cells done of the total after each.
    Cells are rendered while the first ones run: each worker takes the next rendered cell."""
    started = time.perf_counter()
    listed = _listed(mw, tables)
    order = {c[0]: i for i, c in enumerate(listed)}
    todo: queue.SimpleQueue[PlannedCell | None] = queue.SimpleQueue()
    done = _Counter(len(listed), progress)

    def work() -> tuple[list[CellResult], list[RowDrift]]:
        out: list[CellResult] = []
        drifted: list[RowDrift] = []
        with db_session.connect(dsn, autocommit=True) as conn:
            runner = RequestRunner(conn)
            while (p := todo.get()) is not None:
                began = time.perf_counter()
                outcome, back = _execute(runner, p)
                actual = allowed(p.op, outcome)
                out.append(
                    CellResult(p.cell, p.expected, actual, detail(p.op, outcome),
                               time.perf_counter() - began)
                )
                drifted += _drifts(p, actual, back)
                done.one_more()
        return out, drifted

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers + 1) as pool:
        running = [pool.submit(work) for _ in range(workers)]
        planning = pool.submit(_planned_into, mw, listed, todo, workers)
        parts = [f.result() for f in running]
        planning.result()
    seconds = time.perf_counter() - started
    results = sorted((r for part, _ in parts for r in part), key=lambda r: order[r.cell])
    return MatrixRun(results, seconds, sorted(
        (d for _, part in parts for d in part), key=lambda d: (d.cell, d.column)))
