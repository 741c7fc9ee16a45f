"""The canary run: every text of the matrix world marked (rolled back), then every viewer's
readable surface searched in the database for markers, each found marker judged by
soberharness.checker.canaries against the viewers the model lets know it.

The surface is what the viewer reads (every relation and function of its non-interference
snapshot) and what it is told when refused: the matrix cells the model refuses are sent again
inside the marked transaction (all in one server-side call, each cell in a subtransaction as
its actor), and the error's message, detail and hint searched for markers (a marker there is
named with the refused request)."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Collection, Iterator, Sequence

import psycopg
from psycopg import sql

from soberharness.checker.canaries import leaks
from soberharness.checker.matrix import ExpectationCache
from soberharness.clients.postgrest_sql import request_settings
from soberharness.records.noninterference import CanaryLeak
from soberharness.records.results import Cell
from soberharness.runner.matrix import request_for
from soberharness.runner.noninterference import Reader, connect, reader
from soberharness.workload.canaries import PATTERN, Canary, canaries, marking
from soberharness.workload.function_args import argument_samples
from soberharness.workload.invisible_changes import matrix_viewers
from soberharness.workload.matrix_cases import Case, Ctx, cells
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


def _search(conn: psycopg.Connection, r: Reader) -> list[tuple[str, str, str]]:
    """The markers in what `r` reads (settings in force). When a relation or function fails
    on the marked world (e.g. a real Storage API's storage.search on an argument that only
    fails once there are objects), the rest is searched one by one, and the failure's own
    text (message, detail, hint) is searched as what the viewer reads from it."""
    try:
        with conn.transaction():
            return conn.execute(search_query(r)).fetchall()
    except psycopg.Error:
        pass
    rows: list[tuple[str, str, str]] = []
    for rel in r.names:
        try:
            with conn.transaction():
                rows += conn.execute(search_query(r.only(rel))).fetchall()
        except psycopg.Error as exc:
            said = " ".join(filter(None, (exc.diag.message_primary, exc.diag.message_detail,
                                          exc.diag.message_hint)))
            rows += [(rel, "error", m) for m in re.findall(PATTERN, said)]
    return rows


@dataclasses.dataclass
class CanaryRun:
    leaks: list[CanaryLeak]
    canaries: int
    found: int  # markers found in all (known or not)
    seconds: float
    refusals: int = 0  # refused requests whose error text was searched


def refused_cells(mw: MatrixWorld, tables: Collection[str] | None = None) -> set[Cell]:
    """The matrix cells (of `tables`, when given) the access model refuses."""
    cache = ExpectationCache(mw.world)
    return {cell for cell, ctx, case in cells(mw)
            if (tables is None or cell.table in tables)
            and not cache.expected(ctx, case.build(ctx))}


def _viewer_label(cell: Cell) -> str:
    """The cell's actor as matrix_viewers names it."""
    return f"self/{cell.privacy}" if cell.actor == "self" else cell.actor


def _statements(ctx: Ctx, case: Case) -> list[str]:
    """The cell's setup (as the superuser), then its request as the actor."""
    request = request_for(case.build(ctx))
    parts = [*request.setup,
             request_settings(ctx.viewer, request.method, request.path, claims=ctx.claims()),
             request.query]
    return [part.as_bytes(None).decode() for part in parts]


# Sends every refused cell's statements in one call: each cell in a subtransaction ended by an
# error (its own, or the sentinel that rolls a cell that went through back), the error's
# message, detail and hint returned with the cell's position. Lives in pg_temp, inside the
# marked (rolled-back) transaction.
REFUSALS_PER_CALL = 256
TRY_ALL = """
create function pg_temp.soberharness_refusals(cells jsonb)
  returns table(n integer, message text, detail text, hint text) language plpgsql as $fn$
declare
  statements jsonb;
  statement text;
  state text;
begin
  n := 0;
  for statements in select value from jsonb_array_elements(cells) loop
    begin
      for statement in select value from jsonb_array_elements_text(statements) loop
        execute statement;
      end loop;
      raise exception using errcode = 'SHRBK';
    exception when others then
      get stacked diagnostics state = returned_sqlstate, message = message_text,
        detail = pg_exception_detail, hint = pg_exception_hint;
      if state <> 'SHRBK' then
        return next;
      end if;
    end;
    n := n + 1;
  end loop;
end
$fn$
"""


def _refusal_markers(
    conn: psycopg.Connection, mw: MatrixWorld, refused: Collection[Cell]
) -> Iterator[tuple[str, tuple[str, str, str]]]:
    """(viewer label, (where, part, marker)) for every marker in a refused cell's error."""
    tried = [(cell, _statements(ctx, case)) for cell, ctx, case in cells(mw) if cell in refused]
    if not tried:
        return
    conn.execute(TRY_ALL.encode())
    answers: list[tuple[int, str, str, str]] = []
    for start in range(0, len(tried), REFUSALS_PER_CALL):  # each call under the statement
        chunk = tried[start:start + REFUSALS_PER_CALL]      # timeout on its own
        answers += [(start + n, *texts) for n, *texts in conn.execute(
            "select * from pg_temp.soberharness_refusals(%s::jsonb)",
            [json.dumps([statements for _, statements in chunk])]).fetchall()]
    for n, *texts in answers:
        cell = tried[n][0]
        where = f"the refusal of [{cell.label()}]"
        for part, text in zip(("message", "detail", "hint"), texts, strict=True):
            for marker in re.findall(PATTERN, text or ""):
                yield _viewer_label(cell), (where, part, marker)


def run_canaries(
    dsn: str, mw: MatrixWorld, schemas: Sequence[str], refused: Collection[Cell] = ()
) -> CanaryRun:
    """Mark every text, search every viewer's surface and the error texts of the `refused`
    cells, roll back; leaks judged by the model."""
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
                    rows = _search(conn, r)
                found += len(rows)
                out += leaks(r.label, rows, knowers, sources)
            for viewer, marker in _refusal_markers(conn, mw, set(refused)):
                found += 1
                out += leaks(viewer, [marker], knowers, sources)
    return CanaryRun(out, len(planted), found, time.perf_counter() - started, len(refused))
