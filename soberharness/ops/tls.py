"""TLS on the gateway (seed 1.1.3, 5.2.1) with a test CA: a CA and a server certificate made
for the test (cryptography), the gateway's config reading them, and handshakes against it.
Findings (pure): the right name refused, a wrong name accepted, plain HTTP answered on the
TLS port."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from pathlib import Path

# The test CA lives with the targets (the containers target gives its database one too);
# re-exported here for the gateway's tests.
from soberharness.targets.tls_ca import HOST, GatewayCA, make_test_ca

__all__ = ["HOST", "GatewayCA", "findings", "handshake", "make_test_ca", "plain_status", "tls_here"]

TLS_IN_IMAGE = "/etc/nginx/tls/"
TIMEOUT_S = 5.0


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
