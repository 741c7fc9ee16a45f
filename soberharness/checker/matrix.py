"""The access matrix checker: each cell run in the database as PostgREST would run it,
judged against the independent access model."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Callable, Collection, Sequence

import psycopg
from psycopg import sql

from soberharness.access.model import AccessModel
from soberharness.checker.results import Cell, CellResult, Op
from soberharness.clients.postgrest_sql import Outcome, Request, RequestRunner, render
from soberharness.workload import sql as rows
from soberharness.workload.matrix_cases import Action, Ctx, cells
from soberharness.world.entities import Bucket, Entity, StoredObject, User, World
from soberharness.world.matrix_world import MatrixWorld

Progress = Callable[[int, int], None]


@dataclasses.dataclass
class MatrixRun:
    results: list[CellResult]
    seconds: float

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


def allowed(op: Op, outcome: Outcome) -> bool:
    """Did the database let the request through? Reads must return the row; writes must
    succeed and (for update/delete) touch exactly the one row."""
    if not outcome.ok:
        return False
    if op is Op.SELECT:
        return len(outcome.rows) == 1
    if op is Op.INSERT:
        return True
    return outcome.rowcount == 1


def detail(op: Op, outcome: Outcome) -> str:
    if outcome.error:
        return outcome.error
    if op is Op.SELECT:
        return f"{len(outcome.rows)} row(s) returned"
    if op is Op.INSERT:
        return "inserted"
    return f"{outcome.rowcount} row(s) affected"


class ExpectationCache:
    """One AccessModel per distinct world a case prepares."""

    def __init__(self, base: World, model_class: type[AccessModel] = AccessModel) -> None:
        self.base = base
        self.model_class = model_class  # a subclass with a planted rule predicts a defect
        self._models: dict[tuple[object, ...], AccessModel] = {}

    def model(self, action: Action) -> AccessModel:
        key = (action.removed, action.added)
        if key not in self._models:
            self._models[key] = self.model_class(action.world(self.base))
        return self._models[key]

    def expected(self, ctx: Ctx, action: Action) -> bool:
        model = self.model(action)
        match action.op:
            case Op.SELECT:  # a row that is not there is read by nobody
                return model.exists(action.target) and model.can_read(ctx.viewer, action.target)
            case Op.INSERT:
                return model.can_insert(ctx.viewer, action.target)
            case Op.UPDATE:
                assert action.after is not None
                return model.can_update(ctx.viewer, action.target, action.after)
            case Op.DELETE:
                return model.can_delete(ctx.viewer, action.target)


@dataclasses.dataclass(frozen=True)
class PlannedCell:
    cell: Cell
    op: Op
    text: bytes  # the request, rendered
    setup_statements: int
    expected: bool


def _prerendered(request: Request) -> Request:
    """The same request with its statements rendered once (cells reuse them)."""
    def text(part: sql.Composable) -> sql.SQL:
        return sql.SQL(part.as_bytes(None).decode())

    return dataclasses.replace(
        request, query=text(request.query), setup=[text(p) for p in request.setup]
    )


def plan(mw: MatrixWorld, tables: Collection[str] | None = None) -> list[PlannedCell]:
    """Every cell (of `tables`, when given) with its rendered request and the model's verdict,
    before anything runs."""
    cache = ExpectationCache(mw.world)
    requests: dict[Action, Request] = {}  # many cells send the same statement
    planned = []
    for cell, ctx, case in cells(mw):
        if tables is not None and cell.table not in tables:
            continue
        action = case.build(ctx)
        request = requests.get(action)
        if request is None:
            request = requests[action] = _prerendered(request_for(action))
        planned.append(
            PlannedCell(cell, action.op, render(ctx.viewer, request, claims=ctx.claims()),
                        len(request.setup), cache.expected(ctx, action))
        )
    return planned


# Cells run concurrently on one database; two cells may deadlock on the same rows (the
# harness's own doing, not the stack's): such a cell is run again.
RETRY_STATES = ("40P01", "40001")


def _execute(runner: RequestRunner, p: PlannedCell, tries: int = 3) -> Outcome:
    outcome = runner.execute(p.text, p.setup_statements)
    for _ in range(tries - 1):
        if not (outcome.error and outcome.error.startswith(RETRY_STATES)):
            break
        outcome = runner.execute(p.text, p.setup_statements)
    return outcome


def run_matrix(
    dsn: str,
    mw: MatrixWorld,
    workers: int = 2,
    progress: Progress | None = None,
    tables: Collection[str] | None = None,
) -> MatrixRun:
    """Run every cell (of `tables`, when given) against the database at `dsn`, which holds
    `mw.world`."""
    started = time.perf_counter()
    planned = plan(mw, tables)
    chunks = [planned[i::workers] for i in range(workers)]

    def work(chunk: Sequence[PlannedCell]) -> list[CellResult]:
        out: list[CellResult] = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            runner = RequestRunner(conn)
            for p in chunk:
                began = time.perf_counter()
                outcome = _execute(runner, p)
                out.append(
                    CellResult(p.cell, p.expected, allowed(p.op, outcome), detail(p.op, outcome),
                               time.perf_counter() - began)
                )
                if progress is not None:
                    progress(1, len(planned))
        return out

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(work, chunks))
    seconds = time.perf_counter() - started
    order = {p.cell: i for i, p in enumerate(planned)}
    results = sorted((r for part in parts for r in part), key=lambda r: order[r.cell])
    return MatrixRun(results, seconds)
