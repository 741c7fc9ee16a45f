"""Many requests to one round trip: libpq's pipeline mode on one connection.

Each request is still its own transaction exactly as PostgREST runs it (begin, setup, the
settings, the query, ..., end): its statements go as extended-protocol messages followed by a
Sync, and its last statement (the ROLLBACK or COMMIT that ends it) after a second Sync. An error
makes the server skip the rest of that request up to its first Sync; the second Sync's
statement then ends the failed transaction, so the next request starts clean. Nothing is
shared between requests but the connection, as with one round trip per request.

`run_batch` sends a batch and reads every statement's result back: per request the first
error (SQLSTATE and message, as `RequestRunner.execute` words it) or the results in statement
order (rows as text, affected row count). The batch is written without blocking, reading
answers as they come, so a batch larger than the sockets' buffers cannot deadlock, and waits
for answers outside libpq (which would block holding the GIL: two workers whose cells wait on
each other's rows would then wait for ever).
"""

from __future__ import annotations

import dataclasses
import select
from collections.abc import Sequence

import psycopg
from psycopg import pq

from soberharness.db import session as db_session

SEND_WAIT_S = 60.0  # the longest the server may take to accept more of a batch
READ_MARGIN_S = 60.0  # beyond the session's statement timeout (the server ends a hung statement)
OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)


@dataclasses.dataclass(frozen=True)
class Result:
    """One statement's answer: its rows (text values, None for NULL) and affected rows."""

    rows: list[tuple[str | None, ...]]
    rowcount: int


@dataclasses.dataclass(frozen=True)
class Answered:
    """One request's answers: every statement's result, or the first error."""

    results: list[Result]
    error: str | None = None  # "SQLSTATE: message", as RequestRunner.execute words it


def error_line(res: pq.abc.PGresult) -> str:
    """A failed statement's result as "SQLSTATE: primary message"."""
    state = (res.error_field(pq.DiagnosticField.SQLSTATE) or b"?").decode()
    message = res.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or res.error_message
    return f"{state}: {message.decode('utf-8', 'replace').strip()}"


def _result(res: pq.abc.PGresult) -> Result:
    rows = [
        tuple(None if (v := res.get_value(r, c)) is None else v.decode()
              for c in range(res.nfields))
        for r in range(res.ntuples)
    ]
    count = res.command_tuples
    return Result(rows, count if count is not None else -1)


def _send(pg: pq.abc.PGconn, requests: Sequence[Sequence[bytes]]) -> None:
    for statements in requests:
        for statement in statements[:-1]:
            pg.send_query_params(statement, None)
        pg.pipeline_sync()
        pg.send_query_params(statements[-1], None)
        pg.pipeline_sync()


def _flush(pg: pq.abc.PGconn, wait_s: float) -> None:
    """Send what libpq holds (non-blocking), reading answers meanwhile: the server writes
    results while it reads the batch, and a client that only writes would deadlock with it
    once both sockets' buffers are full."""
    while pg.flush() != 0:
        readable, writable, _ = select.select([pg.socket], [pg.socket], [], wait_s)
        if not readable and not writable:
            raise psycopg.OperationalError(
                f"a pipelined batch could not be sent within {wait_s:g} s")
        if readable:
            pg.consume_input()


def ready(pg: pq.abc.PGconn, what: str = "a pipelined batch") -> None:
    """Wait (releasing the GIL) until the next result can be taken without blocking: libpq
    blocks holding it, and another worker's transaction may be waiting on this one's end.
    `what` names the work waited for in the error of a server that never answers."""
    while pg.is_busy():
        wait_s = db_session.statement_timeout_s() + READ_MARGIN_S
        readable, _, _ = select.select([pg.socket], [], [], wait_s)
        if not readable:
            raise psycopg.OperationalError(f"{what} got no answer within {wait_s:g} s")
        pg.consume_input()


def _next(pg: pq.abc.PGconn) -> pq.abc.PGresult:
    ready(pg)
    res = pg.get_result()
    if res is None or (res.status == pq.ExecStatus.FATAL_ERROR and pg.status == pq.ConnStatus.BAD):
        raise psycopg.OperationalError(
            f"the connection broke during a pipelined batch: "
            f"{pg.error_message.decode('utf-8', 'replace').strip()}")
    return res


def _statement(pg: pq.abc.PGconn) -> pq.abc.PGresult:
    """The next statement's result (then the end of its results)."""
    res = _next(pg)
    ready(pg)
    if pg.get_result() is not None:
        raise psycopg.ProgrammingError("a pipelined statement returned more than one result")
    return res


def _sync(pg: pq.abc.PGconn) -> None:
    if _next(pg).status != pq.ExecStatus.PIPELINE_SYNC:
        raise psycopg.ProgrammingError("a pipelined batch lost its place (no Sync where due)")


def _read(pg: pq.abc.PGconn, statements: Sequence[bytes]) -> Answered:
    results: list[Result] = []
    error: str | None = None
    for _ in statements[:-1]:
        res = _statement(pg)
        if res.status in OK:
            results.append(_result(res))
        elif error is None and res.status != pq.ExecStatus.PIPELINE_ABORTED:
            error = error_line(res)
    _sync(pg)
    end = _statement(pg)  # ends the transaction, failed or not
    if error is None:
        if end.status not in OK:
            error = error_line(end)
        else:
            results.append(_result(end))
    _sync(pg)
    return Answered(results, error)


def run_batch(conn: psycopg.Connection, requests: Sequence[Sequence[bytes]]) -> list[Answered]:
    """Send every request (each a list of statements, the last ending its transaction) in one
    round trip on `conn` (autocommit, idle) and read their answers, in order."""
    if not conn.autocommit:
        raise ValueError("pipelined requests need an autocommit connection")
    if any(len(r) < 2 for r in requests):
        raise ValueError("a pipelined request is a transaction: at least BEGIN and its end")
    pg = conn.pgconn
    pg.enter_pipeline_mode()
    try:
        pg.nonblocking = 1
        _send(pg, requests)
        _flush(pg, SEND_WAIT_S)
        answers = [_read(pg, statements) for statements in requests]
    except BaseException:
        conn.close()  # results of the batch may be pending: the session is not reusable
        raise
    pg.exit_pipeline_mode()
    pg.nonblocking = 0
    return answers
