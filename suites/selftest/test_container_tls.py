"""The containers target's database TLS (targets/container_tls.py), without an engine: the
run's own certificate names what clients use and verifies under libpq's verify-full rules,
the compose file's ./db/tls and ./db/ca are what it replaces, the key is given to the image's
database user, and the harness's DSN verifies the server (the live run is
suites/ops/test_containers_live.py)."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from soberharness.config.envcheck import COMPOSE_FILE
from soberharness.errors import TargetUnavailable
from soberharness.targets.base import Service
from soberharness.targets.container_tls import make_database_tls, with_options
from soberharness.targets.containers import endpoints, plan_stack

STACK_COMPOSE = Path(COMPOSE_FILE).resolve().parent


def test_certificate_names_the_service_host_and_the_published_address(tmp_path: Path) -> None:
    tls = make_database_tls(tmp_path, os.getuid(), "t")
    cert = x509.load_pem_x509_certificate((tls.tls_dir / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == ["db", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # Signed by the CA clients are given, not by itself.
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    assert context.cert_store_stats()["x509_ca"] == 1
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    assert cert.issuer == ca.subject and cert.subject != ca.subject
    assert sorted(p.name for p in tls.tls_dir.iterdir()) == ["tls.crt", "tls.key"]
    assert (tls.tls_dir / "tls.key").stat().st_mode & 0o777 == 0o600


def test_it_replaces_exactly_the_compose_files_tls_and_ca_folders(tmp_path: Path) -> None:
    tls = make_database_tls(tmp_path, os.getuid(), "t")
    swaps = tls.substitutes(STACK_COMPOSE)
    plan = plan_stack()
    mounted = {host for spec in plan.containers for host, _, _ in spec.binds}
    # Both folders are bind sources of the compose file (the database's certificate; the CA
    # of every client), and nothing else is replaced.
    assert set(swaps) <= mounted and len(swaps) == 2
    db = {target: host for host, target, _ in plan.container("db").binds}
    assert swaps[db["/etc/postgresql-tls"]] == str(tls.tls_dir)
    assert set(swaps.values()) == {str(tls.tls_dir), str(tls.ca_dir)}


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_key_belongs_to_the_images_database_user(tmp_path: Path) -> None:
    tls = make_database_tls(tmp_path, 101, "t")
    assert (tls.tls_dir / "tls.key").stat().st_uid == 101


def test_key_that_cannot_be_given_away_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:  # as for a user who is not root
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chown", refuse)
    with pytest.raises(TargetUnavailable, match=r"^target 't': cannot give the database's TLS "
                       r"key to uid 101 .*: Operation not permitted; run the containers target"):
        make_database_tls(tmp_path, 101, "t")


def test_harness_dsn_verifies_the_server(tmp_path: Path) -> None:
    tls = make_database_tls(tmp_path, os.getuid(), "t")
    plan = plan_stack({Service.POSTGRES})
    mapped = {("gateway", 8000): 49153, ("mail", 8025): 49154, ("db", 5432): 49155}
    dsn = endpoints(plan, mapped, tls.dsn_options())[Service.POSTGRES]
    base, _, query = dsn.partition("?")
    assert base.endswith("@127.0.0.1:49155/postgres")
    assert query == f"sslmode=verify-full&sslrootcert={str(tls.ca_file).replace('/', '%2F')}"
    assert with_options("postgresql://h/db?a=1", "b=2") == "postgresql://h/db?a=1&b=2"
    assert with_options("postgresql://h/db", "") == "postgresql://h/db"
