"""Many matrix cells in one server-side call: a pg_temp PL/pgSQL function runs each cell in its
own subtransaction, always rolled back, and returns what the pipelined runner
(soberharness.runner.pipelined) would have observed of it.

Per cell, inside `BEGIN ... EXCEPTION`: `transaction_read_only` on when the request's own
transaction would be READ ONLY, the setup (as the superuser), the read-back's counts (a checked
write: the function reads the same `pg_stat_get_xact_tuples_*` of the cell's table as the
pipelined runner's counts statement, as an expression of its own rather than a statement), the
request's settings (role and claims, the same pairs as its `SELECT set_config(...)` statement,
transaction-local), the query (its row count kept), then for a checked write `RESET ROLE`, the
counts again and the written row;
finally a private SQLSTATE rolls the subtransaction back, undoing the writes, the settings and
the role. An error ends only its own cell: its SQLSTATE and primary message are returned.

What differs from a transaction per cell, and why no cell's outcome changes:
- `now()` / `transaction_timestamp()` is the batch's start, not the cell's (a batch lasts
  milliseconds; the matrix world's times are written by the harness, not by `now()`).
- Deferred constraints and `ON COMMIT` work never run in either: every cell rolls back.
- Transaction-local settings (`set_config(..., true)`, the role) end with the subtransaction.
- Locks and row locks taken by a cell are released when its subtransaction aborts, so the
  other worker waits on a cell, never on a batch.
- The session's statement timeout bounds the whole call, not one cell: a call that times out
  (or any error outside a cell) makes the caller run the batch again the pipelined way, where
  the timeout is per statement (`run` returns None).
- A cell that deadlocked (soberharness.runner.matrix.RETRY_STATES) is run again by the caller
  the pipelined way, as before.
The function needs TEMP on the database; where it cannot be created (a remote target that
refuses it) the caller keeps the pipelined runner (`install` returns False).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import psycopg

from soberharness.records.outcome import Outcome
from soberharness.records.results import Op
from soberharness.runner.row_after_write import counts_statement

FUNCTION = """
create or replace function pg_temp.soberharness_cells(batch jsonb)
  returns table(n integer, state text, message text, affected bigint,
                before text, after text, checked text)
  language plpgsql as $fn$
declare
  texts text[] := array(select jsonb_array_elements_text(batch->'t'));
  c jsonb;
  id text;
  rel regclass;
begin
  n := 0;
  for c in select value from jsonb_array_elements(batch->'c') loop
    state := null; message := null; affected := null;
    before := null; after := null; checked := null;
    begin
      if (c->>0)::int = 1 then
        perform set_config('transaction_read_only', 'on', true);
      end if;
      for id in select jsonb_array_elements_text(c->1) loop
        execute texts[id::int + 1];
      end loop;
      if c->>4 is not null then
        rel := (c->>4)::regclass;
        before := array[pg_catalog.pg_stat_get_xact_tuples_inserted(rel),
                        pg_catalog.pg_stat_get_xact_tuples_updated(rel),
                        pg_catalog.pg_stat_get_xact_tuples_deleted(rel)]::text;
      end if;
      perform set_config(s->>0, s->>1, true)
        from jsonb_array_elements(batch->'s'->((c->>2)::int)) s;
      execute texts[(c->>3)::int + 1];
      get diagnostics affected = row_count;
      if c->>4 is not null then
        reset role;
        after := array[pg_catalog.pg_stat_get_xact_tuples_inserted(rel),
                       pg_catalog.pg_stat_get_xact_tuples_updated(rel),
                       pg_catalog.pg_stat_get_xact_tuples_deleted(rel)]::text;
        execute texts[(c->>5)::int + 1] into checked;
      end if;
      raise exception using errcode = 'SHRBK';
    exception when others then
      get stacked diagnostics state = returned_sqlstate, message = message_text;
      if state = 'SHRBK' then
        state := null; message := null;
      else
        affected := null; before := null; after := null; checked := null;
      end if;
    end;
    return next;
    n := n + 1;
  end loop;
end
$fn$
"""

# The batch's transaction: READ COMMITTED as PostgREST's, and a deadlock between the two
# workers' cells found in milliseconds rather than a second (the cell is run again).
SETUP = (b"SET TRANSACTION ISOLATION LEVEL READ COMMITTED; "
         b"SET LOCAL deadlock_timeout = '50ms'")
CALL = b"select * from pg_temp.soberharness_cells(%s::jsonb)"


@dataclasses.dataclass(frozen=True)
class Observed:
    """One cell as the pipelined runner observes it: the outcome and, for a checked write that
    ran without error, its read-back's results (counts before, counts after, checked row) as
    text."""

    outcome: Outcome
    read_back: tuple[str, str, str | None] | None = None


@dataclasses.dataclass(frozen=True)
class Shape:
    """A cell's statements as the function takes them (from a pipelined cell's list)."""

    read_only: bool
    setup: tuple[bytes, ...]
    settings: tuple[tuple[str, str], ...]  # set with set_config(name, value, true), in order
    query: bytes
    counts: str | None  # a checked write's table (schema.table), whose counts the function reads
    check: bytes | None  # its read-back of the written row


def shape(statements: Sequence[bytes], setup_statements: int, checked: str | None,
          settings: tuple[tuple[str, str], ...]) -> Shape:
    """Split a pipelined cell's statements: begin, setup (and counts), settings, query (and
    RESET ROLE, counts, check), rollback; `settings` are the pairs its settings statement sets
    (soberharness.clients.postgrest_sql.request_setting_pairs), set by the function instead.
    `checked` names a checked write's table: its counts statements must be
    soberharness.runner.row_after_write's for that table, which the function reads itself (an
    expression of its own rather than a statement per cell)."""
    begin, s = statements[0], setup_statements
    if not statements[-1] == b"ROLLBACK" or not begin.startswith(b"BEGIN"):
        raise ValueError("a batched cell is a rolled-back transaction")
    pre = tuple(statements[1:1 + s])
    if not settings or not statements[1 + s].startswith(b"SELECT set_config("):
        raise ValueError("a batched cell sets its request's settings")
    query = statements[2 + s]
    if not checked:
        if len(statements) != s + 4:
            raise ValueError("an unchecked cell has one query after its settings")
        return Shape(begin.endswith(b"READ ONLY"), pre, settings, query, None, None)
    if statements[3 + s:-1] != (b"RESET ROLE", pre[-1], statements[-2]) or len(statements) != s + 7:
        raise ValueError("a checked cell reads back: RESET ROLE, the counts, the row")
    if pre[-1] != counts_statement(checked).as_bytes(None):
        raise ValueError(f"a checked cell counts the rows of its own table ({checked})")
    return Shape(begin.endswith(b"READ ONLY"), pre[:-1], settings, query, checked,
                 statements[-2])


def payload(shapes: Sequence[Shape]) -> str:
    """The batch as compact JSON: every distinct text once, cells by index."""
    index: dict[bytes, int] = {}
    sets: dict[tuple[tuple[str, str], ...], int] = {}

    def at(text: bytes) -> int:
        found = index.get(text)
        if found is None:
            found = index[text] = len(index)
        return found

    def pairs(settings: tuple[tuple[str, str], ...]) -> int:
        return sets.setdefault(settings, len(sets))

    cells = [[int(c.read_only), [at(t) for t in c.setup], pairs(c.settings), at(c.query),
              c.counts, None if c.check is None else at(c.check)] for c in shapes]
    texts = [t.decode() for t in index]
    return json.dumps({"t": texts, "s": list(sets), "c": cells}, separators=(",", ":"))


def install(conn: psycopg.Connection) -> bool:
    """Create the function in the session's pg_temp; False where the server refuses it."""
    try:
        conn.execute(FUNCTION.encode())
    except psycopg.Error:
        if not conn.autocommit and not conn.closed:
            conn.rollback()
        return False
    return True


def _observed(op: Op, row: tuple[object, ...]) -> Observed:
    _, state, message, affected, before, after, checked = row
    if state is not None:
        return Observed(Outcome([], 0, f"{state}: {str(message).strip()}"))
    count = int(affected)  # type: ignore[call-overload]
    rows: list[tuple[object, ...]] = [()] * count if op is Op.SELECT else []
    back = None if before is None else (before, after, checked)
    return Observed(Outcome(rows, count), back)  # type: ignore[arg-type]


def run(conn: psycopg.Connection, ops: Sequence[Op], shapes: Sequence[Shape]
        ) -> list[Observed] | None:
    """Run the cells in one call on `conn` (autocommit, the function installed), in one
    transaction rolled back at the end; None when the call itself failed (timed out, ...)."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(SETUP)
            got = conn.execute(CALL, [payload(shapes)], prepare=False).fetchall()
    except psycopg.Error:
        if conn.closed or conn.broken:
            raise
        return None
    if [r[0] for r in got] != list(range(len(shapes))):
        raise psycopg.ProgrammingError("a batched call lost its place")
    return [_observed(op, row) for op, row in zip(ops, got, strict=True)]
