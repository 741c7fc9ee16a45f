"""Requests sent many to a round trip (soberharness.runner.pipelined) stay separate transactions:
an error ends only its own request, a committed one commits, a rolled-back one leaves nothing,
and a batch larger than the sockets' buffers comes back whole."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.runner.pipelined import run_batch

BEGIN = b"BEGIN ISOLATION LEVEL READ COMMITTED"


@pytest.mark.needs("postgres")
def test_an_error_ends_only_its_own_request(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute("create table pipelined_t (id int primary key)")
        answers = run_batch(conn, [
            [BEGIN, b"insert into pipelined_t values (1)", b"COMMIT"],
            [BEGIN, b"insert into pipelined_t values (1)", b"select 'skipped'", b"ROLLBACK"],
            [BEGIN, b"insert into pipelined_t values (2)", b"select count(*) from pipelined_t",
             b"ROLLBACK"],
            [BEGIN, b"select 1/0", b"COMMIT"],
            [BEGIN, b"select id from pipelined_t order by id", b"ROLLBACK"],
        ])
        assert [a.error for a in answers] == [
            None,
            '23505: duplicate key value violates unique constraint "pipelined_t_pkey"',
            None,
            "22012: division by zero",
            None,
        ]
        assert answers[0].results[1].rowcount == 1
        assert answers[2].results[2].rows == [("2",)]  # its own insert, seen inside it
        assert answers[4].results[1].rows == [("1",)]  # only the committed request's row
        assert conn.execute("select count(*) from pipelined_t").fetchone() == (1,)
        assert conn.info.transaction_status == conn.info.transaction_status.IDLE


@pytest.mark.needs("postgres")
def test_a_batch_larger_than_the_socket_buffers_comes_back_whole(scratch_database: str) -> None:
    wide = b"select repeat('x', 20000), g from generate_series(1, 4) g"
    with db_session.connect(scratch_database, autocommit=True) as conn:
        answers = run_batch(conn, [[BEGIN, wide, b"ROLLBACK"]] * 300)  # about 24 MB back
        assert all(a.error is None and len(a.results[1].rows) == 4 for a in answers)
        assert answers[-1].results[1].rows[3] == ("x" * 20000, "4")


@pytest.mark.needs("postgres")
def test_a_request_needs_its_end(scratch_database: str) -> None:
    with (db_session.connect(scratch_database, autocommit=True) as conn,
          pytest.raises(ValueError, match="at least BEGIN and its end")):
        run_batch(conn, [[BEGIN]])
