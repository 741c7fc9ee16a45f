"""Planted defects the PostgreSQL TLS check (suites/ops/test_postgres_tls.py) must report, each
as exactly its finding, on a real PostgreSQL: a pg_hba.conf that lets plain connections in
before the stack's TLS-only lines, together with a certificate that also names
db.sobertube.test; a compose file whose postgres-exporter connects with sslmode=disable,
refused by the stack's own pg_hba.conf; and an edge functions client that encrypts but verifies
nothing (postgres.js `ssl: "require"`), which lets an untrusted CA's certificate through."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from soberharness.config.composecheck import load_compose
from soberharness.config.dbtls import STACK_HBA
from soberharness.ops import pg_tls
from soberharness.ops.pg_tls import TlsPostgres
from soberharness.targets.services.edge_functions import STACK_FUNCTIONS, deno_available
from soberharness.targets.services.tools import missing_reason

EXPORTER = "postgres-exporter"


def test_plain_lets_in_and_a_wider_certificate_are_reported(tmp_path: Path) -> None:
    planted = "host all all 0.0.0.0/0 scram-sha-256\n" + STACK_HBA.read_text()
    with TlsPostgres(tmp_path, planted, names=(pg_tls.SERVER_NAME, pg_tls.WRONG_NAME)) as pg:
        results = {case: pg_tls.attempt(pg.port, options)
                   for case, options in pg.standard_cases().items()}
    assert pg_tls.findings(results) == [
        "wrong host name: accepted (TLS), must be refused",
        "plain: accepted (no TLS), must be refused"]


def test_a_service_connecting_without_tls_is_refused_and_named(tmp_path: Path) -> None:
    compose = load_compose()
    environment = compose["services"][EXPORTER]["environment"]
    environment["DATA_SOURCE_NAME"] = environment["DATA_SOURCE_NAME"].split("?")[0] + \
        "?sslmode=disable"
    with TlsPostgres(tmp_path) as pg:
        results = {name: pg_tls.attempt(pg.port, options)
                   for name, options in pg_tls.declared_cases(compose, pg.ca.ca_file).items()}
    found = pg_tls.findings(results)
    assert len(found) == 1, found
    assert found[0].startswith(f"{EXPORTER} DATA_SOURCE_NAME: refused: ")
    assert "no encryption" in found[0]


def test_the_judge_names_a_refusal_for_another_reason_and_an_unencrypted_session() -> None:
    refused = pg_tls.Attempt(False, False, "connection refused")
    assert pg_tls.findings({"plain": refused, "rest PGRST_DB_URI": pg_tls.Attempt(True, False, "")}
                           ) == ["plain: refused, but not for no encryption: connection refused",
                                 "rest PGRST_DB_URI: served without TLS (pg_stat_ssl.ssl is false)"]


def test_a_functions_client_that_verifies_nothing_is_reported(tmp_path: Path) -> None:
    if not deno_available():
        pytest.skip(missing_reason("deno"))
    planted = tmp_path / "functions"
    shutil.copytree(STACK_FUNCTIONS, planted)
    db = planted / "_shared" / "db.ts"
    db.write_text(db.read_text().replace("...(ssl ? { ssl } : {}),", 'ssl: "require",'))
    with TlsPostgres(tmp_path / "pg") as pg:
        cases = pg.standard_cases()
        results = {case: pg_tls.functions_attempt(pg.port, cases[case], tmp_path, planted)
                   for case in ("verified", "untrusted CA")}
    assert pg_tls.findings(results) == ["untrusted CA: accepted (TLS), must be refused"]
