"""Many requests chained in one simple-protocol message, each still its own transaction.

A request is a list of statements: BEGIN, ..., and the COMMIT or ROLLBACK that ends it, as
PostgREST runs it (see soberharness.clients.postgrest_sql). `run_chain` sends every request's
statements as ONE Query message and reads each statement's result as it comes: while nothing
fails, one round trip. An error makes the server skip the rest of the message: the failed
request's transaction is rolled back and the requests after it are sent again, in the next
message (the ROLLBACK at its head), so an error ends only its own request, exactly as when
each request is a message of its own. (A message the server cannot parse runs not at all: that
is a harness bug, raised as such rather than charged to the first request.) Interrupted while
reading (Ctrl-C, a timeout), a chain cancels what the server still runs and rolls back an open
transaction, leaving the session usable for the caller's clean-up. `Chain` sends and returns
at once; its answers are read later, so that the caller works while the server does.

Where the server answers over loopback, a round trip costs little next to the statements of
a request; what one message saves is the client's waking up per statement (libpq's pipeline
mode, soberharness.runner.pipelined, sends every statement as extended-protocol messages and
hands back every result separately).

Answers are those of soberharness.runner.pipelined (`Answered`: the results in statement
order, or the first error as "SQLSTATE: message"); rows are loaded by `load`, by default as
psycopg's cursors load them (`typed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg
from psycopg import pq
from psycopg.adapt import Transformer

from soberharness.runner.pipelined import OK, Answered, Result, error_line, ready

CANCEL_WAIT_S = 10.0  # the longest a cancel request may take after an interruption

Load = Callable[[pq.abc.PGresult], Result]


def typed(conn: psycopg.Connection) -> Load:
    """A loader giving rows as `conn`'s cursors would (uuid.UUID, bool, date, ...)."""
    tx = Transformer(conn)

    def load(res: pq.abc.PGresult) -> Result:
        tx.set_pgresult(res)
        count = res.command_tuples
        return Result(tx.load_rows(0, res.ntuples, tuple), count if count is not None else -1)

    return load


def _next(pg: pq.abc.PGconn) -> pq.abc.PGresult | None:
    """The next result of the message, None after the last (waiting outside libpq, which
    would block holding the GIL)."""
    ready(pg, "a chained message")
    res = pg.get_result()
    if res is not None and res.status == pq.ExecStatus.FATAL_ERROR and (
            pg.status == pq.ConnStatus.BAD):
        raise psycopg.OperationalError(
            f"the connection broke during a chained message: {error_line(res)}")
    return res


def _results(pg: pq.abc.PGconn) -> list[pq.abc.PGresult]:
    """The results of the Query message sent, in order (the last one an error when one
    failed: the server skipped the rest)."""
    results = []
    while (res := _next(pg)) is not None:
        results.append(res)
    return results


def _answers(requests: Sequence[Sequence[bytes]], results: list[pq.abc.PGresult], load: Load
             ) -> list[Answered]:
    """The requests' answers, up to and including the first one that failed."""
    answers: list[Answered] = []
    at = 0
    for statements in requests:
        got = results[at:at + len(statements)]
        at += len(statements)
        failed = next((r for r in got if r.status not in OK), None)
        if failed is not None and not answers and failed is got[0] and (
                statements[0].startswith(b"BEGIN")):
            # A BEGIN that fails first in a message: the server refused the whole message
            # before running any of it (it parses a message whole), whichever statement it is.
            raise psycopg.ProgrammingError(
                f"a chained message was refused before any of it ran: {error_line(failed)}")
        if failed is not None:
            answers.append(Answered([load(r) for r in got[:-1]], error_line(failed)))
            return answers
        if len(got) < len(statements):
            raise psycopg.ProgrammingError("a chained message lost its place (results missing)")
        answers.append(Answered([load(r) for r in got]))
    return answers


class Chain:
    """Requests on their way: `Chain(conn, requests)` sends the first message and returns at
    once (the server works while the caller does something else); `answers()` reads them,
    sending the rest again after an error. Nothing else may use `conn` in between."""

    def __init__(
        self, conn: psycopg.Connection, requests: Sequence[Sequence[bytes]],
        load: Load | None = None,
    ) -> None:
        if not conn.autocommit:
            raise ValueError("chained requests need an autocommit connection")
        if any(len(r) < 2 for r in requests):
            raise ValueError("a chained request is a transaction: at least BEGIN and its end")
        self.conn, self.requests, self.load = conn, requests, load or typed(conn)
        self._answers: list[Answered] = []
        self._head: list[bytes] = []  # the ROLLBACK of a request that failed in the last message
        self._done = False
        self._send()

    def _send(self) -> None:
        rest = self.requests[len(self._answers):]
        try:
            self.conn.pgconn.send_query(b";\n".join([*self._head, *(s for r in rest for s in r)]))
        except BaseException:
            self.conn.close()
            raise

    def answers(self) -> list[Answered]:
        """Every request's answer, in order (waiting for those still on their way; read
        once, then kept)."""
        if self._done:
            return self._answers
        pg = self.conn.pgconn
        try:
            while True:
                results = _results(pg)
                if pg.status == pq.ConnStatus.BAD or not results:
                    raise psycopg.OperationalError(
                        "the connection broke during a chained message")
                if self._head and results[0].status not in OK:
                    raise psycopg.OperationalError(f"ROLLBACK failed: {error_line(results[0])}")
                rest = self.requests[len(self._answers):]
                self._answers += _answers(rest, results[len(self._head):], self.load)
                idle = pg.transaction_status == pq.TransactionStatus.IDLE
                self._head = [] if idle else [b"ROLLBACK"]
                if len(self._answers) == len(self.requests):
                    break
                self._send()
            if self._head:
                pg.send_query(self._head[0])
                _results(pg)
            self._done = True
        except BaseException:
            self._abandon()
            raise
        return self._answers

    def _abandon(self) -> None:
        """After an interruption or an error while reading (Ctrl-C, a timeout): cancel what the
        server still runs of the message (nothing after it commits), read what it still sends
        and roll back a transaction left open, so that the session stays usable (the caller
        cleans up on it); it is closed only when that fails too."""
        pg = self.conn.pgconn
        try:
            if pg.status == pq.ConnStatus.BAD:
                raise psycopg.OperationalError("the connection is broken")
            self.conn.cancel_safe(timeout=CANCEL_WAIT_S)
            _results(pg)
            if pg.transaction_status != pq.TransactionStatus.IDLE:
                pg.send_query(b"ROLLBACK")
                _results(pg)
            if pg.transaction_status != pq.TransactionStatus.IDLE:
                raise psycopg.OperationalError("the session could not be rolled back")
        except BaseException:
            self.conn.close()  # results may be pending: the session is not reusable


def run_chain(
    conn: psycopg.Connection, requests: Sequence[Sequence[bytes]], load: Load | None = None
) -> list[Answered]:
    """Send every request (each a list of statements, the last ending its transaction) on
    `conn` (autocommit, idle) in as few messages as errors allow; their answers, in order."""
    return Chain(conn, requests, load).answers()
