"""The access matrix's outcome digest on one server: equal digests, equal verdicts in every
cell (the policies, grants and RLS a restore or a failover must carry over)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from soberharness.checker.matrix import run_matrix
from soberharness.checker.results import CellResult
from soberharness.world.matrix_world import MatrixWorld


def digest(results: Iterable[CellResult]) -> str:
    """sha256 over every cell's label and verdicts, sorted (as the run report's digest)."""
    lines = sorted(f"{r.cell.label()}|{r.expected}|{r.actual}" for r in results)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def of(dsn: str, world: MatrixWorld) -> tuple[int, str]:
    run = run_matrix(dsn, world)
    return len(run.results), digest(run.results)
