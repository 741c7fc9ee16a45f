"""Moving a deployment between two PostgreSQL servers (python -m soberharness.cloud_move).

The source is a database of the local target holding the matrix world; the destination is a
second local server with other settings (time zone, date style) holding only the migrations.
After the move the check finds nothing; each planted difference on the destination (a lost
row, a changed row, a changed policy, RLS switched off, an indexed column in another collation) is
reported as exactly that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.cloud_move import main
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.targets.base import DatabaseProvisioning, Target, lacks
from soberharness.targets.local import LocalTarget
from soberharness.world.matrix_world import build_matrix_world

SRC, DST = "SOBER_MOVE_SOURCE_DSN", "SOBER_MOVE_DEST_DSN"


@pytest.fixture(scope="module")
def servers(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[LocalTarget, str, str]]:
    if not isinstance(target, DatabaseProvisioning):
        pytest.skip(lacks(target, DatabaseProvisioning))
    source = target.new_database("movesrc")
    source_dsn = target.admin_dsn(source)
    with db_session.connect(source_dsn, autocommit=True) as conn:
        write_world(conn, build_matrix_world("move").world)
    other = LocalTarget(workdir=tmp_path_factory.mktemp("move-dest"), name="move-dest",
                        pg_settings={"timezone": "Pacific/Chatham", "datestyle": "SQL, DMY"})
    try:
        other.start()
        yield other, source_dsn, other.new_database("movedst")
    finally:
        other.stop()
        target.drop_database(source)


def _run(capsys: pytest.CaptureFixture[str], src: str, dst: str, *args: str) -> tuple[int, list[
        str]]:
    code = main(["--from-env", SRC, "--to-env", DST, *args], environ={SRC: src, DST: dst})
    out = capsys.readouterr()
    return code, (out.out + out.err).strip().splitlines()


@pytest.fixture(scope="module")
def moved(servers: tuple[LocalTarget, str, str]) -> str:
    """The destination's DSN after one move: the planted defects go into clones of it."""
    other, src, name = servers
    dst = other.admin_dsn(name)
    code = main(["--from-env", SRC, "--to-env", DST, "--replace"], environ={SRC: src, DST: dst})
    assert code == 0
    return dst


def _clone(servers: tuple[LocalTarget, str, str], moved: str, name: str) -> str:
    other, _, template = servers
    with db_session.connect(other.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}" template "{template}"')
    return other.admin_dsn(name)


@pytest.mark.needs("postgres")
def test_moved_data_and_policies_agree(servers: tuple[LocalTarget, str, str], moved: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _, src, _ = servers
    code, lines = _run(capsys, src, moved, "--check-only")
    assert (code, lines) == (0, ["source and destination agree"])
    with db_session.connect(src) as a, db_session.connect(moved) as b:
        for table in ("auth.users", "public.profiles", "public.follows", "storage.objects"):
            count = f"select count(*) from {table}"
            assert a.execute(count).fetchone() == b.execute(count).fetchone()
            assert a.execute(count).fetchone()[0] > 0, table
        hashes = "select id, encrypted_password from auth.users order by id"
        assert a.execute(hashes).fetchall() == b.execute(hashes).fetchall()


@pytest.mark.needs("postgres")
def test_moving_onto_data_needs_replace(servers: tuple[LocalTarget, str, str], moved: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, servers[1], moved)
    assert code == 4 and len(lines) == 1
    assert lines[0].startswith("soberharness.cloud_move: the destination already holds rows in")
    assert "--replace" in lines[0] and "postgres" not in lines[0].split("rows in")[0]


PLANTED = {
    "lost row": ("delete from public.follows where ctid = (select min(ctid) from public.follows)",
                 "public.follows: {n} rows on the source, {m} on the destination"),
    "changed row": ("update public.posts set body = body || '!' "
                    "where id = (select min(id::text)::uuid from public.posts)",
                    "public.posts: same row count ({n}), different contents"),
    "changed policy": ("alter policy blocks_select_own on public.blocks using (true)", None),
    "collation": ('alter table public.profiles alter column handle type text collate "en-x-icu"',
                  "public.profiles.handle (indexed): collation C (libc) on the source, "
                  "en-x-icu (icu) on the destination (sorts differently)"),
    "rls off": ("alter table public.likes disable row level security",
                "public.likes (rls): differs: source enabled=True forced=False; "
                "destination enabled=False forced=False"),
}


@pytest.mark.needs("postgres")
@pytest.mark.parametrize("defect", sorted(PLANTED))
def test_each_planted_difference_is_reported(servers: tuple[LocalTarget, str, str], moved: str,
                                             defect: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    statement, expected = PLANTED[defect]
    dst = _clone(servers, moved, f"planted_{defect.replace(' ', '_')}")
    with db_session.connect(dst, autocommit=True) as conn:
        conn.execute("set session_replication_role = replica")
        conn.execute(statement)
    code, lines = _run(capsys, servers[1], dst, "--check-only")
    assert code == 1, lines
    assert lines[-1] == "1 difference(s) between source and destination"
    assert len(lines) == 2
    with db_session.connect(servers[1]) as conn:
        follows = conn.execute("select count(*) from public.follows").fetchone()[0]
        posts = conn.execute("select count(*) from public.posts").fetchone()[0]
    if defect == "lost row":
        assert lines[0] == "DIFF " + expected.format(n=follows, m=follows - 1)  # type: ignore[union-attr]
    elif defect == "changed row":
        assert lines[0] == "DIFF " + expected.format(n=posts)  # type: ignore[union-attr]
    elif defect == "changed policy":
        assert lines[0].startswith("DIFF public.blocks policy blocks_select_own: differs: source ")
        assert lines[0].endswith("destination PERMISSIVE for SELECT to {authenticated} using "
                                 "(true) with check (None)")
    else:  # rls off, collation
        assert lines[0] == "DIFF " + expected  # type: ignore[operator]


def test_a_missing_variable_is_one_line(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    code = main(["--from-env", SRC, "--to-env", DST], environ={SRC: "dbname=x"})
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert err == [f"soberharness.cloud_move: environment variable {DST} is not set "
                   "(it should hold a DSN)"]
