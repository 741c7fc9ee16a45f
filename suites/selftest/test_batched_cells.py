"""Matrix cells run many to one server-side call (soberharness.runner.batched) stay apart as
their own transactions would: an error ends only its own cell, a cell's writes, settings, role
and read-only mode are gone before the next, a call that fails as a whole is run again the
pipelined way, and a server refusing the pg_temp function leaves the pipelined runner.
Roles are the cluster's: each test names its own and drops them at its end, failed or not."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.records.results import Cell, Op
from soberharness.runner import batched
from soberharness.runner.matrix import PlannedCell, execute_batched, run_matrix
from soberharness.runner.row_after_write import counts_statement
from soberharness.world.matrix_world import build_matrix_world

BEGIN = b"BEGIN ISOLATION LEVEL READ COMMITTED"


def _shape(query: bytes, settings: tuple[tuple[str, str], ...], setup: tuple[bytes, ...] = (),
           read_only: bool = False) -> batched.Shape:
    return batched.Shape(read_only, setup, settings, query, None, None)


def _existing(conn: psycopg.Connection, names: tuple[str, ...]) -> list[str]:
    return [r[0] for r in conn.execute(
        "select rolname from pg_roles where rolname = any(%s) order by rolname", [list(names)])]


@contextlib.contextmanager
def _roles(conn: psycopg.Connection, *stems: str) -> Iterator[tuple[str, ...]]:
    """Roles of this test alone (a random suffix: another worker may run the same test),
    dropped at the end, failed or not, with what was granted to them in this database."""
    names = tuple(f"{stem}_{uuid.uuid4().hex[:8]}" for stem in stems)
    try:
        for name in names:
            conn.execute(f'create role "{name}"'.encode())
        yield names
    finally:
        conn.execute("reset role")
        for name in _existing(conn, names):
            conn.execute(f'drop owned by "{name}"'.encode())
            conn.execute(f'drop role "{name}"'.encode())


def _prepared(conn: psycopg.Connection, actor: str) -> None:
    conn.execute("create table batched_t (id int primary key)")
    conn.execute(f'grant select, insert on batched_t to "{actor}"'.encode())


@pytest.mark.needs("postgres")
def test_each_cell_is_alone_and_rolled_back(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        with _roles(conn, "batched_actor") as (actor,):
            _prepared(conn, actor)
            assert batched.install(conn)
            role = (("role", actor),)
            ops = [Op.INSERT, Op.SELECT, Op.INSERT, Op.SELECT, Op.SELECT, Op.INSERT, Op.SELECT]
            seen = batched.run(conn, ops, [
                _shape(b"insert into batched_t values (1)", role),
                _shape(b"select id from batched_t", role),  # the first cell's row is gone
                _shape(b"select 1/0", role),
                _shape(f"select 1 where current_user = '{actor}'"
                       " and current_setting('request.x') = 'set'".encode(),
                       (("request.x", "set"), ("role", actor))),
                _shape(b"select 1 where current_setting('request.x', true) is distinct from 'set'",
                       role),
                _shape(b"insert into batched_t values (2)", role, read_only=True),
                _shape(b"select id from batched_t", role,
                       setup=(b"insert into batched_t values (3)",)),
            ])
            assert seen is not None
            assert [s.outcome.error for s in seen] == [
                None, None, "22012: division by zero", None, None,
                "25006: cannot execute INSERT in a read-only transaction", None]
            assert [s.outcome.rowcount for s in seen] == [1, 0, 0, 1, 1, 0, 1]
            assert conn.execute("select count(*) from batched_t").fetchone() == (0,)
            assert conn.execute("select current_user").fetchone() != (actor,)
        assert _existing(conn, (actor,)) == []


@pytest.mark.needs("postgres")
def test_a_failed_call_is_run_again_pipelined(scratch_database: str) -> None:
    cell = Cell("batched_t", Op.SELECT, "anon", "public")
    with db_session.connect(scratch_database, autocommit=True) as conn:
        with _roles(conn, "batched_actor") as (actor,):
            role = (("role", actor),)
            planned = [
                PlannedCell(cell, Op.SELECT,
                            (BEGIN, f"SELECT set_config('role', '{actor}', true)".encode(),
                             query, b"ROLLBACK"), 0, True, None, role)
                for query in (b"select id from batched_t", b"select pg_sleep(3)")
            ]
            _prepared(conn, actor)
            conn.execute(f'grant execute on function pg_sleep(double precision) to "{actor}"'
                         .encode())
            assert batched.install(conn)
            # Only now the short timeout (the set-up above may be slow on a loaded machine).
            conn.execute("set statement_timeout = '1s'")
            # The call as a whole outlives the statement timeout: nothing is returned of it ...
            assert batched.run(conn, [Op.SELECT] * 2,
                               [_shape(p.statements[2], role) for p in planned]) is None
            # ... and the runner sends the cells again, each its own transaction: only the slow
            # cell is timed out.
            got = execute_batched(conn, planned)
            assert [o.error for o, _ in got] == [
                None, "57014: canceling statement due to statement timeout"]
            conn.execute("set statement_timeout to default")
        assert _existing(conn, (actor,)) == []


@pytest.mark.needs("postgres")
def test_a_server_refusing_the_function_keeps_the_pipelined_runner(
        scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        name = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(f'revoke temporary on database "{name}" from public')
        with _roles(conn, "batched_no_temp") as (no_temp,):
            conn.execute(f'set role "{no_temp}"'.encode())
            assert not batched.install(conn)
        assert _existing(conn, (no_temp,)) == []


@pytest.mark.needs("postgres")
def test_the_tests_roles_are_dropped_when_a_test_fails(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        with pytest.raises(RuntimeError, match="planted"), \
                _roles(conn, "batched_actor", "batched_no_temp") as made:
            _prepared(conn, made[0])
            conn.execute(f'set role "{made[1]}"'.encode())
            raise RuntimeError("planted: a test failing half-way, a role still set")
        assert len(made) == 2 and _existing(conn, made) == []


def test_a_cell_that_is_not_a_rolled_back_request_is_refused() -> None:
    with pytest.raises(ValueError, match="rolled-back transaction"):
        batched.shape((BEGIN, b"SELECT set_config('role', 'x', true)", b"select 1",
                       b"COMMIT"), 0, None, (("role", "x"),))
    with pytest.raises(ValueError, match="sets its request's settings"):
        batched.shape((BEGIN, b"select 1", b"select 1", b"ROLLBACK"), 0, None, ())


def test_a_checked_cell_counting_another_table_is_refused() -> None:
    """The function reads a checked cell's counts itself, for the table the cell names: a cell
    whose counts statement reads another table would be run with counts it never asked for."""
    posts = counts_statement("public.posts").as_bytes(None)
    settings = b"SELECT set_config('role', 'x', true)"
    cell = (BEGIN, posts, settings, b"update public.posts set body = 'x'", b"RESET ROLE", posts,
            b"select 1", b"ROLLBACK")
    assert batched.shape(cell, 1, "public.posts", (("role", "x"),)).counts == "public.posts"
    with pytest.raises(ValueError, match=r"its own table \(public.comments\)"):
        batched.shape(cell, 1, "public.comments", (("role", "x"),))


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
