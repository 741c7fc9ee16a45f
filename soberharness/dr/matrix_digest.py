"""The access matrix's outcome digest on one server: equal digests, equal verdicts in every
cell (the policies, grants and RLS a restore or a failover must carry over)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from soberharness.checker.matrix import allowed, detail
from soberharness.clients.postgrest_sql import RequestRunner
from soberharness.db import session as db_session
from soberharness.records.results import CellResult
from soberharness.runner.matrix import plan, run_matrix
from soberharness.world.matrix_world import MatrixWorld


def digest(results: Iterable[CellResult]) -> str:
    """sha256 over every cell's label and verdicts, sorted (as the run report's digest)."""
    lines = sorted(f"{r.cell.label()}|{r.expected}|{r.actual}" for r in results)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def of(dsn: str, world: MatrixWorld) -> tuple[int, str]:
    run = run_matrix(dsn, world)
    return len(run.results), digest(run.results)


def sample(dsn: str, world: MatrixWorld, every: int = 7) -> list[CellResult]:
    """Every `every`-th cell of the matrix, run on one connection (cheaper than all)."""
    results = []
    with db_session.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        runner = RequestRunner(conn)
        for planned in plan(world)[::every]:
            outcome = runner.execute(planned.text, planned.setup_statements)
            results.append(CellResult(planned.cell, planned.expected,
                                      allowed(planned.op, outcome), detail(planned.op, outcome)))
    return results


def differing(before: list[CellResult], after: list[CellResult]) -> list[CellResult]:
    """The cells (as after) whose verdict changed between two runs of the same cells."""
    was = {r.cell: r.actual for r in before}
    return [r for r in after if was.get(r.cell) != r.actual]
