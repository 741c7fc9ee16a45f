"""Matrix cells run many to one server-side call (soberharness.runner.batched) stay apart as
their own transactions would: an error ends only its own cell, a cell's writes, settings, role
and read-only mode are gone before the next, a call that fails as a whole is run again the
pipelined way, and a server refusing the pg_temp function leaves the pipelined runner."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.records.results import Cell, Op
from soberharness.runner import batched
from soberharness.runner.matrix import PlannedCell, execute_batched, run_matrix
from soberharness.world.matrix_world import build_matrix_world

BEGIN = b"BEGIN ISOLATION LEVEL READ COMMITTED"
ROLE = (("role", "batched_actor"),)


def _shape(query: bytes, setup: tuple[bytes, ...] = (), read_only: bool = False,
           settings: tuple[tuple[str, str], ...] = ROLE) -> batched.Shape:
    return batched.Shape(read_only, setup, settings, query, None, None)


def _role(conn: object, name: str) -> None:
    """A role (roles are the cluster's: another test may have made it)."""
    conn.execute(f"do $$ begin create role {name}; "  # type: ignore[attr-defined]
                 f"exception when duplicate_object then null; end $$")


def _prepared(conn: object) -> None:
    conn.execute("create table batched_t (id int primary key)")  # type: ignore[attr-defined]
    _role(conn, "batched_actor")
    conn.execute("grant select, insert on batched_t to batched_actor")  # type: ignore[attr-defined]


@pytest.mark.needs("postgres")
def test_each_cell_is_alone_and_rolled_back(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        _prepared(conn)
        assert batched.install(conn)
        ops = [Op.INSERT, Op.SELECT, Op.INSERT, Op.SELECT, Op.SELECT, Op.INSERT, Op.SELECT]
        seen = batched.run(conn, ops, [
            _shape(b"insert into batched_t values (1)"),
            _shape(b"select id from batched_t"),  # the first cell's row is gone
            _shape(b"select 1/0"),
            _shape(b"select 1 where current_user = 'batched_actor'"
                   b" and current_setting('request.x') = 'set'",
                   settings=(("request.x", "set"), ("role", "batched_actor"))),
            _shape(b"select 1 where current_setting('request.x', true) is distinct from 'set'"),
            _shape(b"insert into batched_t values (2)", read_only=True),
            _shape(b"select id from batched_t", setup=(b"insert into batched_t values (3)",)),
        ])
        assert seen is not None
        assert [s.outcome.error for s in seen] == [
            None, None, "22012: division by zero", None, None,
            "25006: cannot execute INSERT in a read-only transaction", None]
        assert [s.outcome.rowcount for s in seen] == [1, 0, 0, 1, 1, 0, 1]
        assert conn.execute("select count(*) from batched_t").fetchone() == (0,)
        assert conn.execute("select current_user").fetchone() != ("batched_actor",)


@pytest.mark.needs("postgres")
def test_a_failed_call_is_run_again_pipelined(scratch_database: str) -> None:
    cell = Cell("batched_t", Op.SELECT, "anon", "public")
    planned = [
        PlannedCell(cell, Op.SELECT, (BEGIN, b"SELECT set_config('role', 'batched_actor', true)",
                                      query, b"ROLLBACK"), 0, True, None, ROLE)
        for query in (b"select id from batched_t", b"select pg_sleep(3)")
    ]
    with db_session.connect(scratch_database, autocommit=True) as conn:
        _prepared(conn)
        conn.execute("grant execute on function pg_sleep(double precision) to batched_actor")
        assert batched.install(conn)
        # Only now the short timeout (the set-up above may be slow on a loaded machine).
        conn.execute("set statement_timeout = '1s'")
        # The call as a whole outlives the statement timeout: nothing is returned of it ...
        assert batched.run(conn, [Op.SELECT] * 2,
                           [_shape(p.statements[2]) for p in planned]) is None
        # ... and the runner sends the cells again, each its own transaction: only the slow
        # cell is timed out.
        got = execute_batched(conn, planned)
        assert [o.error for o, _ in got] == [
            None, "57014: canceling statement due to statement timeout"]


@pytest.mark.needs("postgres")
def test_a_server_refusing_the_function_keeps_the_pipelined_runner(
        scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        name = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(f'revoke temporary on database "{name}" from public')
        _role(conn, "batched_no_temp")
        conn.execute("set role batched_no_temp")
        assert not batched.install(conn)


def test_a_cell_that_is_not_a_rolled_back_request_is_refused() -> None:
    with pytest.raises(ValueError, match="rolled-back transaction"):
        batched.shape((BEGIN, b"SELECT set_config('role', 'x', true)", b"select 1",
                       b"COMMIT"), 0, False, ROLE)
    with pytest.raises(ValueError, match="sets its request's settings"):
        batched.shape((BEGIN, b"select 1", b"select 1", b"ROLLBACK"), 0, False, ())


@pytest.mark.needs("postgres")
def test_server_batches_observe_what_pipelined_requests_observe(scratch_database: str) -> None:
    from soberharness.db.seed import write_world

    mw = build_matrix_world()
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
    tables = {"follows", "posts"}
    one = run_matrix(scratch_database, mw, tables=tables, server_batches=False)
    other = run_matrix(scratch_database, mw, tables=tables, server_batches=True)
    assert len(one.results) > 100
    assert ([(r.cell, r.expected, r.actual, r.detail) for r in one.results]
            == [(r.cell, r.expected, r.actual, r.detail) for r in other.results])
    assert one.drifts == other.drifts
