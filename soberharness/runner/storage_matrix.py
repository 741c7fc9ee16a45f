"""The storage matrix over HTTP: every storage cell run through the Storage API, judged
against the same independent access model as the SQL matrix."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable

from soberharness.access.model import AccessModel
from soberharness.access.storage_keys import accepts_object_key, written_name
from soberharness.checker.matrix import ExpectationCache
from soberharness.records.results import Cell, CellResult
from soberharness.workload.matrix_cases import Action
from soberharness.workload.storage_actions import Callers, ObjectState
from soberharness.workload.storage_forms import StorageCell
from soberharness.world.matrix_world import MatrixWorld


@dataclasses.dataclass
class StorageRun:
    results: list[CellResult]
    seconds: float

    @property
    def mismatches(self) -> list[CellResult]:
        return [r for r in self.results if not r.ok]

    def summary(self) -> dict[str, object]:
        return {
            "cells": len(self.results),
            "mismatches": [f"{r.cell.label()}: expected "
                           f"{'allow' if r.expected else 'deny'}, {r.detail}"
                           for r in self.mismatches],
            "seconds": round(self.seconds, 2),
        }


def run_storage_matrix(mw: MatrixWorld, callers: Callers, state: ObjectState,
                       cells: Iterable[StorageCell]) -> StorageRun:
    """Run each cell as its actor, one at a time (each leaves the objects as it found them).
    The model judges every action the cell's form needs (a copy: read the source and insert
    the copy); the cell is expected allowed when all are. A cell whose answer contradicts the
    state it left counts as a mismatch whatever the model says. A name the Storage API does
    not write (access.storage_keys) is expected refused whatever the model says."""
    started = time.perf_counter()
    cache = ExpectationCache(mw.world)
    results: list[CellResult] = []
    for sc in cells:
        expected = all(cache.expected(sc.ctx, judged) and _key_written(judged)
                       for judged in sc.judged)
        attempt = sc.run(callers.of(sc.ctx.viewer), state, sc.action)
        actual = attempt.allowed if attempt.consistent else not expected
        results.append(CellResult(sc.cell, expected, actual, attempt.detail))
    return StorageRun(results, time.perf_counter() - started)


def _key_written(action: Action) -> bool:
    name = written_name(action.op, action.target, action.after)
    return name is None or accepts_object_key(name)


def predicted_mismatches(mw: MatrixWorld, cells: Iterable[StorageCell],
                         planted: type[AccessModel]) -> set[Cell]:
    """The cells a planted defect must show as: where the model with the defect's rule
    (`access.planted`) and the true model disagree."""
    true, leaky = ExpectationCache(mw.world), ExpectationCache(mw.world, planted)
    return {sc.cell for sc in cells
            if all(true.expected(sc.ctx, a) and _key_written(a) for a in sc.judged)
            != all(leaky.expected(sc.ctx, a) and _key_written(a) for a in sc.judged)}
