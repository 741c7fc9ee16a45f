"""Requests chained in one message (soberharness.runner.chained) stay separate transactions: an
error ends only its own request (the requests after it are sent again and run), a committed one
commits, a rolled-back one leaves nothing, a COMMIT that fails ends its own request only, and
rows come back typed as psycopg's cursors give them."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.runner.chained import run_chain

BEGIN = b"BEGIN ISOLATION LEVEL READ COMMITTED"


@pytest.mark.needs("postgres")
def test_an_error_ends_only_its_own_request(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute("create table chained_t (id int primary key)")
        answers = run_chain(conn, [
            [BEGIN, b"insert into chained_t values (1)", b"COMMIT"],
            [BEGIN, b"insert into chained_t values (1)", b"select 'skipped'", b"COMMIT"],
            [BEGIN, b"insert into chained_t values (2)", b"select count(*) from chained_t",
             b"ROLLBACK"],
            [BEGIN, b"select 1/0", b"COMMIT"],
            [BEGIN, b"insert into chained_t values (3)", b"COMMIT"],
            [BEGIN, b"select id from chained_t order by id", b"ROLLBACK"],
        ])
        assert [a.error for a in answers] == [
            None,
            '23505: duplicate key value violates unique constraint "chained_t_pkey"',
            None,
            "22012: division by zero",
            None,
            None,
        ]
        assert answers[0].results[1].rowcount == 1
        assert answers[1].results == [answers[1].results[0]]  # BEGIN only, then the error
        assert answers[2].results[2].rows == [(2,)]  # its own insert, seen inside it
        assert answers[5].results[1].rows == [(1,), (3,)]  # only the committed requests' rows
        assert conn.execute("select count(*) from chained_t").fetchone() == (2,)
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE


@pytest.mark.needs("postgres")
def test_a_failing_commit_ends_only_its_own_request(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute("create table chained_d (id int primary key deferrable initially deferred)")
        answers = run_chain(conn, [
            [BEGIN, b"insert into chained_d values (1), (1)", b"COMMIT"],  # fails at COMMIT
            [BEGIN, b"insert into chained_d values (2)", b"COMMIT"],
        ])
        assert answers[0].error is not None and answers[0].error.startswith("23505: ")
        assert answers[1].error is None
        assert conn.execute("select id from chained_d").fetchall() == [(2,)]


@pytest.mark.needs("postgres")
def test_the_last_request_failing_leaves_the_session_idle(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        answers = run_chain(conn, [[BEGIN, b"select 1", b"COMMIT"],
                                   [BEGIN, b"select x", b"COMMIT"]])
        assert answers[0].error is None and answers[1].error is not None
        assert answers[1].error.startswith("42703: ")
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE
        assert conn.execute("select 1").fetchone() == (1,)


@pytest.mark.needs("postgres")
def test_rows_come_back_typed(scratch_database: str) -> None:
    value = uuid.uuid4()
    with db_session.connect(scratch_database, autocommit=True) as conn:
        [answer] = run_chain(conn, [[BEGIN, f"select '{value}'::uuid, true, null::int".encode(),
                                     b"ROLLBACK"]])
        assert answer.results[1].rows == [(value, True, None)]


@pytest.mark.needs("postgres")
def test_a_request_needs_its_end_and_the_connection_autocommit(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn, pytest.raises(
            ValueError, match="at least BEGIN and its end"):
        run_chain(conn, [[BEGIN]])
    with db_session.connect(scratch_database) as conn, pytest.raises(
            ValueError, match="autocommit"):
        run_chain(conn, [[BEGIN, b"COMMIT"]])


@pytest.mark.needs("postgres")
def test_a_broken_connection_is_one_error_and_the_session_is_closed(
        scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        with pytest.raises(psycopg.OperationalError):
            run_chain(conn, [[BEGIN, b"select pg_terminate_backend(pg_backend_pid())",
                              b"COMMIT"]])
        assert conn.closed


@pytest.mark.needs("postgres")
def test_an_interrupted_chain_leaves_a_usable_session_and_nothing_committed_after(
        scratch_database: str) -> None:
    """Ctrl-C while a request runs: the server stops the message (the request after it never
    commits), the open transaction is rolled back, and the session still serves the caller's
    clean-up."""
    import signal
    import threading

    from soberharness.runner.chained import Chain

    def interrupt() -> None:  # a real SIGINT to the main thread, as Ctrl-C sends
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # type: ignore[arg-type]

    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute("create table chained_i (id int primary key)")
        chain = Chain(conn, [[BEGIN, b"insert into chained_i values (1)", b"select pg_sleep(5)",
                              b"COMMIT"],
                             [BEGIN, b"insert into chained_i values (2)", b"COMMIT"]])
        timer = threading.Timer(0.5, interrupt)
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                chain.answers()
        finally:
            timer.cancel()
        assert not conn.closed
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE
        assert conn.execute("select count(*) from chained_i").fetchone() == (0,)


@pytest.mark.needs("postgres")
def test_a_statement_timeout_ends_only_its_own_request(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute("set statement_timeout = '300ms'")
        answers = run_chain(conn, [[BEGIN, b"select 1", b"COMMIT"],
                                   [BEGIN, b"select pg_sleep(2)", b"COMMIT"],
                                   [BEGIN, b"select 3", b"ROLLBACK"]])
        assert [a.error for a in answers] == [
            None, "57014: canceling statement due to statement timeout", None]
        assert answers[2].results[1].rows == [(3,)]


@pytest.mark.needs("postgres")
def test_a_message_the_server_cannot_parse_is_a_harness_error_not_a_requests(
        scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute("create table chained_p (id int)")
        with pytest.raises(psycopg.ProgrammingError, match="refused before any of it ran"):
            run_chain(conn, [[BEGIN, b"insert into chained_p values (1)", b"COMMIT"],
                             [BEGIN, b"selec 1", b"COMMIT"]])
        assert conn.execute("select count(*) from chained_p").fetchone() == (0,)
