"""A server under a deep folder still starts: its Unix socket goes to a short folder when
<folder>/sock/.s.PGSQL.<port>.lock would not fit a socket path (107 bytes). Seen in CI, where
a test's TMPDIR inside pytest's tmp_path made the server exit at once."""

from __future__ import annotations

from pathlib import Path

from soberharness.db import session as db_session
from soberharness.targets.postgres import SOCKET_FILE, SUN_PATH_MAX, PostgresServer


def test_a_deep_folder_gets_a_short_socket_folder_and_the_server_starts(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    server = PostgresServer(deep / "pg")
    try:
        assert len(str(deep / "pg" / "sock")) + SOCKET_FILE > SUN_PATH_MAX
        assert len(str(server.sockets)) + SOCKET_FILE <= SUN_PATH_MAX, server.sockets
        server.start()
        with db_session.connect(server.dsn(), connect_timeout=10) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        assert any(p.name.startswith(".s.PGSQL.") for p in server.sockets.iterdir())
    finally:
        server.stop()


def test_a_shallow_folder_keeps_its_socket_inside(tmp_path: Path) -> None:
    root = Path("/tmp") / tmp_path.name / "pg"
    server = PostgresServer(root)
    assert server.sockets == root / "sock"
