"""TLS to PostgreSQL (seed 1.1.3, 5.2.1) on a real PostgreSQL with the stack's pg_hba.conf
(stack/compose/db/pg_hba.conf) and a test CA: a session verifying the server's name
(sslmode=verify-full) is served over TLS (pg_stat_ssl); a wrong host name, a plain connection
and a certificate of an untrusted CA are refused, each for that reason; every database
connection the compose file declares (its sslmode, read from the file) is served with TLS;
the postgres exporter (Debian's build) with the stack's DATA_SOURCE_NAME form and the edge
functions' own client (postgres.js, which reads no sslrootcert itself) each verify the server;
and the harness's own sessions to a remote target honour the target file's
[database] TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.config.composecheck import load_compose
from soberharness.db import session as db_session
from soberharness.errors import TargetUnavailable
from soberharness.ops import pg_tls, tools
from soberharness.ops.pg_tls import TlsPostgres
from soberharness.targets.remote import RemoteTarget, load_target_file
from soberharness.targets.services.edge_functions import deno_available
from soberharness.targets.services.tools import missing_reason

# The stack's configuration on a PostgreSQL of the test's own, not the selected target.
pytestmark = pytest.mark.target_independent

SSL_OF_SESSION = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsPostgres]:
    with TlsPostgres(tmp_path_factory.mktemp("pgtls")) as server:
        yield server


def test_verified_tls_is_served_and_the_rest_refused(pg: TlsPostgres) -> None:
    results = {case: pg_tls.attempt(pg.port, options)
               for case, options in pg.standard_cases().items()}
    assert pg_tls.findings(results) == []
    assert results["verified"].encrypted


def test_each_declared_service_connection_is_served_with_tls(pg: TlsPostgres) -> None:
    declared = pg_tls.declared_cases(load_compose(), pg.ca.ca_file)
    assert {"rest PGRST_DB_URI", "realtime DB_HOST", "postgres-exporter DATA_SOURCE_NAME",
            "migrate PGHOST"} <= declared.keys()
    results = {name: pg_tls.attempt(pg.port, options) for name, options in declared.items()}
    assert pg_tls.findings(results) == []


def test_the_exporter_verifies_the_database(pg: TlsPostgres, tmp_path: Path) -> None:
    reason = tools.missing("postgres-exporter")
    if reason:
        pytest.skip(reason)
    cases = pg.standard_cases()
    results = {"postgres-exporter DATA_SOURCE_NAME": pg_tls.exporter_attempt(
        pg.server, cases["verified"], tmp_path),
        "untrusted CA": pg_tls.exporter_attempt(pg.server, cases["untrusted CA"], tmp_path)}
    assert pg_tls.findings(results) == []


def test_the_functions_client_verifies_the_database(pg: TlsPostgres, tmp_path: Path) -> None:
    if not deno_available():
        pytest.skip(missing_reason("deno"))
    cases = pg.standard_cases()
    results = {"functions SUPABASE_DB_URL": pg_tls.functions_attempt(pg.port, cases["verified"],
                                                                      tmp_path),
               "untrusted CA": pg_tls.functions_attempt(pg.port, cases["untrusted CA"], tmp_path)}
    assert pg_tls.findings(results) == []


def _remote(tmp_path: Path, database: str, dsn: str) -> RemoteTarget:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "ca.crt").write_bytes(Path(database).read_bytes() if database else b"")
    table = ('[database]\nsslmode = "verify-full"\nca_file = "ca.crt"\n' if database else "")
    path = tmp_path / "target.toml"
    path.write_text('name = "tls-remote"\n[secrets]\ndatabase_dsn_env = "DB_URL"\n' + table)
    return load_target_file(path, environ={"DB_URL": dsn})


def test_a_remote_target_files_verify_full_is_honoured(pg: TlsPostgres, tmp_path: Path) -> None:
    plain = f"host=localhost port={pg.port} dbname=postgres user=supabase_admin sslmode=disable"
    target = _remote(tmp_path, str(pg.ca.ca_file), plain)
    target.start()
    with db_session.connect(target.admin_dsn()) as conn:
        assert conn.execute(SSL_OF_SESSION).fetchone() == (True,)
    assert "sslmode=disable" not in target.admin_dsn("postgres")


def test_a_remote_target_without_tls_or_with_another_ca_is_refused_in_one_line(
        pg: TlsPostgres, tmp_path: Path) -> None:
    plain = f"host=localhost port={pg.port} dbname=postgres user=supabase_admin sslmode=disable"
    with pytest.raises(TargetUnavailable) as refused:
        _remote(tmp_path / "plain", "", plain).start()
    assert "pg_hba.conf rejects connection" in str(refused.value) and "\n" not in str(refused.value)
    (tmp_path / "other").mkdir()
    with pytest.raises(TargetUnavailable) as untrusted:
        _remote(tmp_path / "other", str(pg.other_ca.ca_file), plain).start()
    assert "tls-remote" in str(untrusted.value) and "\n" not in str(untrusted.value)
