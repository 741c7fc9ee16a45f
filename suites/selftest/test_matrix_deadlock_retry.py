"""A matrix cell that deadlocks with another session is run again (runner.matrix.RETRY_STATES),
on both executors: batched (one server-side call, the cell then run again the pipelined way)
and pipelined (the cell run again alone).

The deadlock is real: a second session (the "other worker") holds advisory lock K2; the planted
cell's setup takes K1, and, finding K2 taken, waits until the other session waits for K1 before
it waits for K2 itself. The other session's deadlock_timeout is long, the cell's short, so the
cell's backend is the one that finds the cycle and gives up (40P01); its abort frees K1, the
other session takes it and lets both go. Run again, the cell takes both locks and answers.
With `tries=1` (no retry) the same cell ends in the 40P01 error on both executors (the batched
one used to run it once more the pipelined way: `tries` now counts the server-side call), and
with 40P01 taken out of RETRY_STATES (tried by hand) the retry tests report exactly that cell's
40P01.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Sequence

import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.records.outcome import Outcome
from soberharness.records.results import Cell, Op
from soberharness.runner import batched
from soberharness.runner.matrix import PlannedCell, execute_batch, execute_batched
from soberharness.runner.row_after_write import ReadBack

pytestmark = pytest.mark.needs("postgres")

K1, K2 = 7_101, 7_102
WAIT_S = 30.0  # the longest either side waits for the other before the test gives up
_IN_THIS_DATABASE = ("locktype = 'advisory' and database = "
                     "(select oid from pg_database where datname = current_database())")

DEADLOCKING_SETUP = f"""DO $$
BEGIN
  PERFORM pg_advisory_xact_lock({K1});
  IF NOT pg_try_advisory_xact_lock({K2}) THEN
    WHILE NOT EXISTS (SELECT FROM pg_locks WHERE {_IN_THIS_DATABASE}
                      AND objid = {K1} AND NOT granted) LOOP
      PERFORM pg_sleep(0.005);
    END LOOP;
    PERFORM pg_advisory_xact_lock({K2});
  END IF;
END $$""".encode()

BEGIN = b"BEGIN ISOLATION LEVEL READ COMMITTED"
SETTINGS = (("request.method", "GET"),)
SET = b"SELECT set_config('request.method', 'GET', true)"


def _cell(table: str, setup: tuple[bytes, ...]) -> PlannedCell:
    return PlannedCell(Cell(table, Op.SELECT, "anon", "public"), Op.SELECT,
                       (BEGIN, *setup, SET, b"select 1", b"ROLLBACK"), len(setup), True,
                       None, SETTINGS)


PLAIN = _cell("plain", ())
DEADLOCKING = _cell("deadlocking", (DEADLOCKING_SETUP,))

Execute = Callable[[psycopg.Connection, Sequence[PlannedCell], int],
                   list[tuple[Outcome, ReadBack | None]]]


def _other_worker(dsn: str, holding: concurrent.futures.Future[None]) -> bool:
    """Hold K2, wait for the cell to take K1, then wait for K1 (closing the cycle); once the
    cell gave K1 up, let both go. True when K1 was indeed the cell's when asked for."""
    with db_session.connect(dsn, autocommit=True) as other:
        other.execute("set deadlock_timeout = '60s'")  # never the one to give up
        other.execute(f"select pg_advisory_lock({K2})".encode())
        holding.set_result(None)
        deadline = time.monotonic() + WAIT_S
        taken = (f"select exists (select from pg_locks where {_IN_THIS_DATABASE} and objid = {K1}"
                 " and granted and pid <> pg_backend_pid())").encode()
        while not other.execute(taken).fetchone()[0]:  # type: ignore[index]
            if time.monotonic() > deadline:
                raise TimeoutError("the cell never took K1")
            time.sleep(0.005)
        was_free = other.execute(f"select pg_try_advisory_lock({K1})".encode()).fetchone()[0]  # type: ignore[index]
        if not was_free:
            other.execute(f"select pg_advisory_lock({K1})".encode())
        other.execute("select pg_advisory_unlock_all()")
        return not was_free


def _run_beside_other_worker(dsn: str, execute: Execute, tries: int
                             ) -> list[tuple[str | None, int]]:
    with db_session.connect(dsn, autocommit=True) as conn, \
            concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        conn.execute("set deadlock_timeout = '50ms'")  # the pipelined cell's (batched sets its own)
        assert batched.install(conn)
        holding: concurrent.futures.Future[None] = concurrent.futures.Future()
        other = pool.submit(_other_worker, dsn, holding)
        holding.result(timeout=WAIT_S)
        got = execute(conn, [PLAIN, DEADLOCKING], tries)
        assert other.result(timeout=WAIT_S), "the other session found K1 free: no deadlock"
    return [(outcome.error, outcome.rowcount) for outcome, _ in got]


EXECUTORS = [pytest.param(execute_batched, id="batched"),
             pytest.param(execute_batch, id="pipelined")]


@pytest.mark.parametrize("execute", EXECUTORS)
def test_a_deadlocked_cell_is_run_again_and_answers(scratch_database: str,
                                                    execute: Execute) -> None:
    assert _run_beside_other_worker(scratch_database, execute, 5) == [(None, 1), (None, 1)]


@pytest.mark.parametrize("execute", EXECUTORS)
def test_without_the_retry_the_cell_ends_deadlocked(scratch_database: str,
                                                    execute: Execute) -> None:
    assert _run_beside_other_worker(scratch_database, execute, 1) == [
        (None, 1), ("40P01: deadlock detected", 0)]
