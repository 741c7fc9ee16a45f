"""The local target: clear one-line errors for bad input, and nothing left running."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from soberharness.errors import HarnessError, MigrationError
from soberharness.targets.local import LocalTarget
from soberharness.targets.migrations import discover
from soberharness.targets.postgres import PostgresServer
from soberharness.targets.sqlfiles import split_statements


def test_split_statements_honours_quotes_comments_and_dollar_bodies() -> None:
    text = (
        "-- a comment; not a statement\n"
        "create table t (a text default 'x;y');\n"
        "create function f() returns int language sql as $fn$ select 1; $fn$;\n"
        "/* block; comment */ select \"odd;name\" from t;\n"
    )
    statements = split_statements(text)
    assert [s.line for s in statements] == [2, 3, 4]
    assert statements[1].text.endswith("$fn$ select 1; $fn$")
    assert statements[2].text.startswith("/* block; comment */")


def test_broken_migration_names_file_line_and_statement(tmp_path: Path) -> None:
    (tmp_path / "0001_ok").mkdir()
    (tmp_path / "0001_ok" / "up.sql").write_text("create table public.t (a int);\n")
    (tmp_path / "0002_bad").mkdir()
    (tmp_path / "0002_bad" / "up.sql").write_text(
        "select 1;\n\ncreate policy p on public.postz for select using (true);\n"
    )
    target = LocalTarget(migrations=tmp_path, workdir=tmp_path / "work")
    with pytest.raises(MigrationError) as info:
        target.start()
    message = str(info.value)
    assert "0002_bad/up.sql:3" in message
    assert "create policy p on public.postz" in message
    assert "does not exist" in message
    assert "\n" not in message
    assert not target.pg.alive, "a failed start stops the server"


def test_missing_or_empty_migrations_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="does not exist"):
        discover(tmp_path / "nowhere")
    with pytest.raises(HarnessError, match="holds no migrations"):
        discover(tmp_path)


def test_flat_supabase_cli_layout_is_understood(tmp_path: Path) -> None:
    (tmp_path / "20240101000000_init.sql").write_text("select 1;")
    (tmp_path / "20240101000000_init.down.sql").write_text("select 1;")
    (tmp_path / "20240102000000_more.sql").write_text("select 1;")
    found = discover(tmp_path)
    assert [m.name for m in found] == ["20240101000000_init", "20240102000000_more"]
    assert found[0].down is not None and found[1].down is None


def test_port_taken_is_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(HarnessError, match=f"port {port} .* taken"):
            PostgresServer(tmp_path / "pg", port=port)


def test_server_stops_and_leaves_no_process(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path / "pg")
    server.start()
    pid = server.pid
    assert pid is not None and server.alive
    server.stop()
    assert not server.alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
