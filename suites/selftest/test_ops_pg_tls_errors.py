"""The PostgreSQL TLS helpers (soberharness.ops.pg_tls) end in one line, never a traceback: an
unreachable server is TargetUnavailable naming its address (not a "refused" attempt the judge
would take for a TLS finding), a bad CA file or port is BadInput naming it, and a pg_hba.conf
line that is cut short is BadInput naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.errors import BadInput, HarnessError, TargetUnavailable
from soberharness.ops import pg_tls
from soberharness.targets.postgres import PostgresServer
from soberharness.targets.services.process import free_port


def _one_line(error: pytest.ExceptionInfo[HarnessError]) -> str:
    text = str(error.value)
    assert text and "\n" not in text and "Traceback" not in text
    return text


def _verify(ca: Path) -> dict[str, str]:
    return {"host": pg_tls.SERVER_NAME, "sslmode": "verify-full", "sslrootcert": str(ca)}


def test_an_unreachable_server_is_one_line_not_a_refusal() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(TargetUnavailable) as error:
        pg_tls.attempt(port, {"host": pg_tls.SERVER_NAME, "sslmode": "disable"})
    assert f"PostgreSQL on 127.0.0.1:{port} is unreachable" in _one_line(error)


def test_an_unreachable_server_through_the_functions_client_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(TargetUnavailable) as error:
        pg_tls.functions_attempt(port, {"host": pg_tls.SERVER_NAME, "sslmode": "disable"},
                                 tmp_path)
    assert f"PostgreSQL on 127.0.0.1:{port} is unreachable" in _one_line(error)


def test_an_unreachable_server_through_the_exporter_is_one_line(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path / "never-started")  # not running: nothing on its port
    with pytest.raises(TargetUnavailable) as error:
        pg_tls.exporter_attempt(server, {"host": pg_tls.SERVER_NAME, "sslmode": "disable"},
                                tmp_path)
    assert f"PostgreSQL on 127.0.0.1:{server.port} is unreachable" in _one_line(error)


@pytest.mark.parametrize(("content", "why"), [
    (None, "No such file"),
    (b"not a certificate\n", "not a PEM certificate"),
    (b"", "not a PEM certificate"),
])
def test_a_bad_ca_file_is_one_line_naming_it(tmp_path: Path, content: bytes | None,
                                             why: str) -> None:
    ca = tmp_path / "ca.crt"
    if content is not None:
        ca.write_bytes(content)
    for run in (lambda: pg_tls.attempt(free_port(), _verify(ca)),
                lambda: pg_tls.functions_attempt(free_port(), _verify(ca), tmp_path),
                lambda: pg_tls.exporter_attempt(PostgresServer(tmp_path / "pg"), _verify(ca),
                                                tmp_path)):
        with pytest.raises(BadInput) as error:
            run()
        line = _one_line(error)
        assert line.startswith(f"CA file {ca}: ") and why in line, line


def test_a_bad_port_or_missing_host_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as error:
        pg_tls.attempt(70_000, {"host": pg_tls.SERVER_NAME, "sslmode": "disable"})
    assert _one_line(error) == "port 70000: not a TCP port (1-65535)"
    with pytest.raises(BadInput) as error:
        pg_tls.functions_attempt(free_port(), {"sslmode": "disable"}, tmp_path)
    assert _one_line(error) == "connection options name no host: {'sslmode': 'disable'}"


def test_a_cut_short_hba_line_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as error:
        pg_tls.TlsPostgres(tmp_path, "hostssl all all 0.0.0.0/0 scram-sha-256\nlocal all\n")
    assert _one_line(error) == "pg_hba.conf line 2: too few fields: local all"


def test_include_lines_are_not_records() -> None:
    """PostgreSQL 16's include, include_if_exists and include_dir lines have two fields: not a
    record cut short."""
    from soberharness.config.dbtls import parse_hba

    lines = parse_hba("include_dir conf.d\ninclude_if_exists extra.conf\n"
                      "hostssl all all 0.0.0.0/0 scram-sha-256\n")
    assert [(line.number, line.kind) for line in lines] == [(3, "hostssl")]
