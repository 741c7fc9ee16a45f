"""The canary run: every text of the matrix world marked (rolled back), then every viewer's
readable surface searched in the database for markers, each found marker judged by
soberharness.checker.canaries against the viewers the model lets know it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from psycopg import sql

from soberharness.checker.canaries import leaks
from soberharness.records.noninterference import CanaryLeak
from soberharness.runner.noninterference import Reader, connect, reader
from soberharness.workload.canaries import PATTERN, Canary, canaries, marking
from soberharness.workload.function_args import argument_samples
from soberharness.workload.invisible_changes import matrix_viewers
from soberharness.world.matrix_world import MatrixWorld


def search_query(r: Reader) -> bytes:
    """One statement: (relation, column, marker) for every marker in what `r` reads."""
    parts = [
        sql.SQL("select {} as rel, e.key, m[1] from ({}) x, jsonb_each_text(to_jsonb(x)) e, "
                "regexp_matches(e.value, {}, 'g') m").format(
            sql.Literal(rel), r.select(rel), sql.Literal(PATTERN))
        for rel in r.names
    ]
    return sql.SQL(" union all ").join(parts).as_bytes(None)


@dataclasses.dataclass
class CanaryRun:
    leaks: list[CanaryLeak]
    canaries: int
    found: int  # markers found in all (known or not)
    seconds: float


def run_canaries(dsn: str, mw: MatrixWorld, schemas: Sequence[str]) -> CanaryRun:
    """Mark every text, search every viewer's surface, roll back; leaks judged by the model."""
    started = time.perf_counter()
    planted: list[Canary] = canaries(mw)
    knowers = {c.marker: c.knowers for c in planted}
    sources = {c.marker: c.source for c in planted}
    out: list[CanaryLeak] = []
    found = 0
    with connect(dsn, autocommit=True) as conn:
        samples = argument_samples(mw)
        readers = [reader(conn, label, v, schemas, samples)
                   for label, v in matrix_viewers(mw).items()]
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL(";\n").join(marking(c) for c in planted).as_bytes(None))
            for r in readers:
                with conn.transaction(force_rollback=True):
                    conn.execute(r.settings)
                    rows = conn.execute(search_query(r)).fetchall()
                found += len(rows)
                out += leaks(r.label, rows, knowers, sources)
    return CanaryRun(out, len(planted), found, time.perf_counter() - started)
