"""What the stack's files say about TLS to PostgreSQL (seed 1.1.3, 5.2.1), read statically.

- `service_connections(environment)`: each database connection a service's environment
  configures (a `postgres://` URL, libpq's PGHOST with PGSSLMODE, Realtime's DB_HOST with
  DB_SSL), with the TLS mode it asks for, in libpq's words (`disable`, `prefer`, `require`,
  `verify-ca`, `verify-full`) and the CA file it verifies with;
- `connection_problems`: every connection must ask for `verify-full` (or what
  `ACCEPTED_WEAKER` accepts, with its reason, where the client offers nothing stronger) with
  a CA file that lies in one of the service's mounts (compose and Kubernetes alike);
- `hba_problems`: the stack's pg_hba.conf lets no plain TCP connection in from the network.

One line per problem, naming the file, the service and the setting. Used by
soberharness.config.composecheck and k8scheck, and by suites/ops/test_postgres_tls.py, which
proves the same on a real PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from soberharness.config.envcheck import COMPOSE_FILE
from soberharness.errors import BadInput

REQUIRED = "verify-full"
STACK_HBA = COMPOSE_FILE.parent / "db" / "pg_hba.conf"
# libpq's default when a connection names no sslmode.
LIBPQ_DEFAULT = "prefer"
# Environment keys naming a database host, and the keys that give its TLS settings:
# (host key, mode key, CA key). Realtime's DB_SSL is a boolean: true with a CA file verifies
# the server's certificate against it (verify-ca: Postgrex upgrades the socket without a
# server name, so Erlang's ssl has no name to check), true alone verifies nothing.
LIBPQ_PARTS = ("PGHOST", "PGSSLMODE", "PGSSLROOTCERT")
REALTIME_PARTS = ("DB_HOST", "DB_SSL", "DB_SSL_CA_CERT")
# Settings whose client offers nothing stronger than REQUIRED: the mode accepted, and why.
ACCEPTED_WEAKER: Mapping[str, tuple[str, str]] = {
    "DB_HOST": ("verify-ca", "Realtime's DB_SSL/DB_SSL_CA_CERT verify the CA; no setting of "
                "it makes Postgrex check the server's name"),
}
URL_SCHEMES = ("postgres", "postgresql")


@dataclasses.dataclass(frozen=True)
class Connection:
    """One database connection a service's environment configures."""

    key: str  # the setting that holds it (PGRST_DB_URI, PGHOST, DB_HOST, ...)
    sslmode: str  # libpq's words
    ca_file: str  # "" when none is named

    def describe(self) -> str:
        return f"{self.key} sslmode={self.sslmode}" + (f" sslrootcert={self.ca_file}"
                                                         if self.ca_file else "")


def _url_connection(key: str, value: str) -> Connection | None:
    parts = urlsplit(value)
    if parts.scheme not in URL_SCHEMES:
        return None
    query = parse_qs(parts.query)
    return Connection(key, (query.get("sslmode") or [LIBPQ_DEFAULT])[0],
                      (query.get("sslrootcert") or [""])[0])


def _realtime_mode(flag: str, ca_file: str) -> str:
    if flag.strip().lower() != "true":
        return "disable"
    return "verify-ca" if ca_file else "require"


def service_connections(environment: Mapping[str, str]) -> list[Connection]:
    """The database connections of one service's environment, in key order."""
    found = [c for key, value in sorted(environment.items())
             if (c := _url_connection(key, str(value))) is not None]
    host, mode, ca = LIBPQ_PARTS
    if host in environment and not str(environment[host]).startswith("/"):
        found.append(Connection(host, str(environment.get(mode, LIBPQ_DEFAULT)),
                                str(environment.get(ca, ""))))
    host, flag, ca = REALTIME_PARTS
    if host in environment:
        ca_file = str(environment.get(ca, ""))
        found.append(Connection(host, _realtime_mode(str(environment.get(flag, "")), ca_file),
                                ca_file))
    return found


def _mounted(path: str, mounts: Iterable[str]) -> bool:
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


def connection_problems(where: str, environment: Mapping[str, str],
                        mounts: Iterable[str]) -> list[str]:
    """`where` (e.g. "docker-compose.yml: service rest"): each connection weaker than
    verify-full, or verifying with a CA file the service has no mount for."""
    mounts = list(mounts)
    problems = []
    for conn in service_connections(environment):
        accepted = {REQUIRED, ACCEPTED_WEAKER.get(conn.key, (REQUIRED, ""))[0]}
        if conn.sslmode not in accepted:
            problems.append(f"{where}: {conn.key} connects to PostgreSQL with "
                            f"sslmode={conn.sslmode} (the stack requires {REQUIRED})")
        elif not conn.ca_file:
            problems.append(f"{where}: {conn.key} names no CA file to verify the database with")
        elif not _mounted(conn.ca_file, mounts):
            problems.append(f"{where}: {conn.key} verifies with {conn.ca_file}, which no mount "
                            "of the service provides")
    return problems


def compose_problems(compose: Mapping[str, Any], source: str = COMPOSE_FILE.name) -> list[str]:
    """connection_problems for every service of a compose file."""
    problems: list[str] = []
    for name, service in compose["services"].items():
        environment = {str(k): str(v) for k, v in (service.get("environment") or {}).items()}
        mounts = [str(v).split(":")[1] for v in service.get("volumes") or [] if ":" in str(v)]
        problems += connection_problems(f"{source}: service {name}", environment, mounts)
    return problems


def container_problems(where: str, container: Mapping[str, Any]) -> list[str]:
    """connection_problems for one Kubernetes container (its literal `env` values)."""
    environment = {str(e["name"]): str(e["value"]) for e in container.get("env") or []
                   if "value" in e}
    mounts = [str(m.get("mountPath")) for m in container.get("volumeMounts") or []]
    return connection_problems(where, environment, mounts)


# ------------------------------------------------------------------------------ pg_hba.conf


@dataclasses.dataclass(frozen=True)
class HbaLine:
    number: int
    kind: str  # local, host, hostssl, hostnossl, ...
    database: str
    user: str
    address: str  # "" for local
    method: str
    text: str


def parse_hba(text: str) -> list[HbaLine]:
    """The records of a pg_hba.conf (comments and blank lines skipped; CIDR form only); a record
    with too few fields is BadInput naming its line."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if not fields or fields[0].startswith("include"):  # include, include_dir, ... (PG 16)
            continue
        if len(fields) < (4 if fields[0] == "local" else 5):
            raise BadInput(f"pg_hba.conf line {number}: too few fields: {raw.strip()}")
        if fields[0] == "local":
            lines.append(HbaLine(number, "local", fields[1], fields[2], "", fields[3], raw.strip()))
        else:
            lines.append(HbaLine(number, fields[0], fields[1], fields[2], fields[3], fields[4],
                                 raw.strip()))
    return lines


def loopback(address: str) -> bool:
    try:
        return ipaddress.ip_network(address, strict=False).network_address.is_loopback
    except ValueError:
        return address in ("localhost", "samehost")


def _everyone(line: HbaLine) -> bool:
    return line.database == "all" and line.user == "all" and line.address in ("0.0.0.0/0",
                                                                               "::/0", "all")


def hba_problems(lines: Sequence[HbaLine], source: str = STACK_HBA.name) -> list[str]:
    """Lines that let a plain TCP connection from the network in (before the refusal that
    covers everyone), and no such refusal at all."""
    problems = []
    refused: set[str] = set()  # address families already refused to everyone
    for line in lines:
        if line.kind not in ("host", "hostnossl") or loopback(line.address):
            continue
        family = "::/0" if ":" in line.address else "0.0.0.0/0"
        if line.method == "reject":
            if line.kind == "hostnossl" and _everyone(line):
                refused.add("0.0.0.0/0" if line.address == "all" else line.address)
                if line.address == "all":
                    refused.add("::/0")
            continue
        if family not in refused:
            problems.append(f"{source}:{line.number}: lets plain (non-TLS) connections in: "
                            f"{line.text}")
    if not refused:
        problems.append(f"{source}: no `hostnossl all all 0.0.0.0/0 reject`: plain connections "
                        "are not refused")
    return problems


def stack_hba_problems(path: Path = STACK_HBA) -> list[str]:
    return hba_problems(parse_hba(path.read_text(encoding="utf-8")), path.name)
