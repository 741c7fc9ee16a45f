"""The stack's declared TLS to PostgreSQL, checked statically (soberharness.config.dbtls),
proven by planted defects each reported as exactly its line: a compose service and a
Kubernetes container connecting with sslmode=disable (named by file, service and setting),
Realtime without DB_SSL, a CA file no mount provides, a pg_hba.conf line letting plain
connections in; and the remote target file's [database] table refused in one line when
malformed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from soberharness.config.composecheck import load_compose
from soberharness.config.dbtls import (
    STACK_HBA,
    compose_problems,
    connection_problems,
    hba_problems,
    parse_hba,
    stack_hba_problems,
)
from soberharness.config.k8scheck import OVERLAYS, render, rule_problems, workloads
from soberharness.targets.remote import TargetFileError, parse_target_config

CA = "/etc/sobertube/db-ca/ca.crt"
URL = f"postgres://u:p@db:5432/postgres?sslmode=verify-full&sslrootcert={CA}"


def test_the_stack_declares_verified_tls_everywhere() -> None:
    assert compose_problems(load_compose()) == []
    assert stack_hba_problems() == []


def test_a_compose_service_with_sslmode_disable_is_named() -> None:
    compose = load_compose()
    env = compose["services"]["postgres-exporter"]["environment"]
    env["DATA_SOURCE_NAME"] = env["DATA_SOURCE_NAME"].replace("sslmode=verify-full",
                                                              "sslmode=disable")
    assert compose_problems(compose) == [
        "docker-compose.yml: service postgres-exporter: DATA_SOURCE_NAME connects to PostgreSQL "
        "with sslmode=disable (the stack requires verify-full)"]


def test_a_k8s_container_with_sslmode_disable_is_named() -> None:
    docs = copy.deepcopy(render(OVERLAYS / "onprem"))
    before = rule_problems(docs)
    container = workloads(docs)["rest"]["spec"]["template"]["spec"]["containers"][0]
    entry = next(e for e in container["env"] if e["name"] == "PGRST_DB_URI")
    entry["value"] = entry["value"].split("?")[0] + "?sslmode=disable"
    assert [p for p in rule_problems(docs) if p not in before] == [
        "Deployment/rest container rest: PGRST_DB_URI connects to PostgreSQL with "
        "sslmode=disable (the stack requires verify-full)"]


@pytest.mark.parametrize(("environment", "mounts", "line"), [
    ({"DB_HOST": "db", "DB_SSL": "false"}, ["/etc/sobertube/db-ca"],
     "s: DB_HOST connects to PostgreSQL with sslmode=disable (the stack requires verify-full)"),
    ({"DB_HOST": "db", "DB_SSL": "true"}, ["/etc/sobertube/db-ca"],
     "s: DB_HOST connects to PostgreSQL with sslmode=require (the stack requires verify-full)"),
    ({"PGHOST": "db"}, [],
     "s: PGHOST connects to PostgreSQL with sslmode=prefer (the stack requires verify-full)"),
    ({"DATABASE_URL": URL}, ["/etc/other"],
     f"s: DATABASE_URL verifies with {CA}, which no mount of the service provides"),
    ({"DATABASE_URL": URL.split("&")[0]}, [],
     "s: DATABASE_URL names no CA file to verify the database with"),
])
def test_each_weak_connection_is_its_line(environment: dict[str, str], mounts: list[str],
                                          line: str) -> None:
    assert connection_problems("s", environment, mounts) == [line]


def test_a_socket_pghost_and_a_verified_url_pass() -> None:
    assert connection_problems("s", {"PGHOST": "/var/run/postgresql", "DATABASE_URL": URL},
                               ["/etc/sobertube/db-ca"]) == []


def test_verify_ca_is_accepted_only_where_the_client_offers_nothing_stronger() -> None:
    realtime = {"DB_HOST": "db", "DB_SSL": "true", "DB_SSL_CA_CERT": CA}
    assert connection_problems("s", realtime, ["/etc/sobertube/db-ca"]) == []
    url = URL.replace("verify-full", "verify-ca")
    assert connection_problems("s", {"DATABASE_URL": url}, ["/etc/sobertube/db-ca"]) == [
        "s: DATABASE_URL connects to PostgreSQL with sslmode=verify-ca (the stack requires "
        "verify-full)"]


def test_a_pg_hba_line_letting_plain_connections_in_is_named() -> None:
    planted = "host all all 10.0.0.0/8 scram-sha-256\n" + STACK_HBA.read_text()
    assert hba_problems(parse_hba(planted)) == [
        "pg_hba.conf:1: lets plain (non-TLS) connections in: host all all 10.0.0.0/8 "
        "scram-sha-256"]
    assert hba_problems(parse_hba("hostssl all all 0.0.0.0/0 scram-sha-256\n")) == [
        "pg_hba.conf: no `hostnossl all all 0.0.0.0/0 reject`: plain connections are not "
        "refused"]


def _target(database: object) -> dict[str, object]:
    return {"name": "t", "secrets": {"database_dsn_env": "DSN"}, "database": database}


@pytest.mark.parametrize(("database", "message"), [
    ({"sslmode": "verify-everything"}, r"database\.sslmode = 'verify-everything'; one of"),
    ({"sslmode": "require", "ca_file": "ca.crt"}, r"ca_file needs sslmode verify-ca or verify"),
    ({"sslmode": "verify-full", "password": "x"}, r"\[database\] takes only sslmode and ca_file"),
    ("verify-full", r"\[database\] must be a table"),
])
def test_a_malformed_database_table_is_one_line(database: object, message: str) -> None:
    with pytest.raises(TargetFileError, match=message) as refused:
        parse_target_config(_target(database), origin="t.toml")
    assert "\n" not in str(refused.value)


def test_the_ca_file_is_read_beside_the_target_file() -> None:
    parsed = parse_target_config(_target({"sslmode": "verify-full", "ca_file": "certs/ca.crt"}),
                                 origin="/srv/targets/t.toml")
    assert (parsed.database_sslmode, parsed.database_ca_file) == (
        "verify-full", str(Path("/srv/targets/certs/ca.crt")))
    with pytest.raises(TargetFileError, match=r"without secrets\.database_dsn_env"):
        parse_target_config({"name": "t", "database": {"sslmode": "verify-full"}}, origin="t")
