"""TLS on the gateway (seed 1.1.3, 5.2.1) with a test CA: a CA and a server certificate made
for the test (cryptography), the gateway's config reading them, and handshakes against it.
Findings (pure): the right name refused, a wrong name accepted, plain HTTP answered on the
TLS port."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import socket
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TLS_IN_IMAGE = "/etc/nginx/tls/"
HOST = "gateway.sobertube.test"
TIMEOUT_S = 5.0


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


def tls_here(config: str, ca: GatewayCA) -> str:
    """The gateway config reading its certificate and key from the test CA's folder."""
    return config.replace(TLS_IN_IMAGE, f"{ca.folder}/")


def handshake(port: int, ca_file: Path, server_name: str) -> str:
    """'' when a verified TLS session with 127.0.0.1:port as `server_name` answers
    /gateway-health with 200, else why not."""
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as raw, \
                context.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(f"GET /gateway-health HTTP/1.1\r\nHost: {server_name}\r\n"
                        "Connection: close\r\n\r\n".encode())
            first = tls.recv(64).decode(errors="replace").split("\r\n", 1)[0]
    except (ssl.SSLError, ssl.CertificateError, OSError) as error:
        return f"{type(error).__name__}: {error}"
    return "" if " 200 " in first + " " else f"answered {first!r}"


def plain_status(port: int) -> str:
    """The status line a plain HTTP request to the TLS port gets ('' if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as raw:
        raw.sendall(b"GET /gateway-health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return raw.recv(64).decode(errors="replace").split("\r\n", 1)[0]


def findings(right: str, refusals: Mapping[str, str], plain: str) -> list[str]:
    """`right`: the handshake as the gateway's name ('' = served); `refusals`: wrong name ->
    its handshake ('' = accepted); `plain`: the status line plain HTTP got."""
    out = [f"refused its own name {HOST}: {right}"] if right else []
    out += [f"wrong host name accepted: {name}" for name, why in refusals.items() if not why]
    if " 200 " in plain + " ":
        out.append(f"plain HTTP served on the TLS port: {plain}")
    return out
