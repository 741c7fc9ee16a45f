"""A certificate authority of the run's own (cryptography): a CA and a server certificate it
signs for given host names and IP addresses, valid for a day. Used by the gateway's TLS tests
(ops/tls.py) and for the containers target's PostgreSQL (targets/container_tls.py)."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "gateway.sobertube.test"


@dataclasses.dataclass(frozen=True)
class GatewayCA:
    folder: Path  # holds tls.crt and tls.key (the gateway's), ca.crt

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.crt"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_test_ca(folder: Path, names: Sequence[str] = (HOST,),
                 ips: Sequence[str] = ()) -> GatewayCA:
    """A CA of the test's own and a certificate it signs for `names` and the IP addresses
    `ips` (valid for a day)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("soberharness test CA"))
          .issuer_name(_name("soberharness test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [*(x509.DNSName(n) for n in names),
                 *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.crt").write_bytes(ca.public_bytes(pem))
    (folder / "tls.crt").write_bytes(cert.public_bytes(pem))
    (folder / "tls.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "tls.key").chmod(0o600)
    return GatewayCA(folder)
