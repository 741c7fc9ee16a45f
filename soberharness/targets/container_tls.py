"""TLS for the containers target's PostgreSQL. The compose file starts the database with
`ssl=on`, its certificate and key from `./db/tls` and its `pg_hba.conf` refusing every network
connection without TLS, and every client verifies the server against `./db/ca/ca.crt`
(stack/compose/db/tls/README.md). An operator puts their own there; for a run the target makes
a CA of its own in its work folder and mounts it in their place, so the code under test is
the stack's as it stands. The key is given to the image's database user, as PostgreSQL
requires (mode 0600, owned by that user)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from urllib.parse import urlencode

from soberharness.errors import TargetUnavailable
from soberharness.targets.tls_ca import make_test_ca

# The compose file's bind sources this replaces (relative to the compose file's folder).
TLS_SOURCE = "db/tls"
CA_SOURCE = "db/ca"
# The names clients use: the services on the compose network, the harness on the published
# port (127.0.0.1, by name or address).
NAMES = ("db", "localhost")
IPS = ("127.0.0.1",)


@dataclasses.dataclass(frozen=True)
class DatabaseTls:
    tls_dir: Path  # tls.crt, tls.key: mounted where ./db/tls is
    ca_dir: Path  # ca.crt: mounted where ./db/ca is

    @property
    def ca_file(self) -> Path:
        return self.ca_dir / "ca.crt"

    def substitutes(self, compose_dir: Path) -> dict[str, str]:
        """Host path of a compose bind source -> the run's own folder in its place."""
        return {str((compose_dir / TLS_SOURCE).resolve()): str(self.tls_dir),
                str((compose_dir / CA_SOURCE).resolve()): str(self.ca_dir)}

    def dsn_options(self) -> str:
        """What the harness adds to its database DSN: verify the server as every service does."""
        return urlencode({"sslmode": "verify-full", "sslrootcert": str(self.ca_file)})


def make_database_tls(folder: Path, key_owner: int, target: str) -> DatabaseTls:
    """A CA and a certificate for NAMES and IPS in `folder`; the key owned by uid `key_owner`."""
    made = make_test_ca(folder / "tls", names=NAMES, ips=IPS)
    ca_dir = folder / "ca"
    ca_dir.mkdir()
    made.ca_file.rename(ca_dir / "ca.crt")
    for path in (made.folder, ca_dir):
        path.chmod(0o755)
    (made.folder / "tls.crt").chmod(0o644)
    (ca_dir / "ca.crt").chmod(0o644)
    try:
        os.chown(made.folder / "tls.key", key_owner, -1)
    except OSError as exc:
        raise TargetUnavailable(
            f"target '{target}': cannot give the database's TLS key to uid {key_owner} (the "
            f"image's database user): {exc.strerror}; run the containers target as root") from None
    return DatabaseTls(tls_dir=made.folder, ca_dir=ca_dir)


def with_options(dsn: str, options: str) -> str:
    """`dsn` with `options` (a query string) added to whatever query it has."""
    return f"{dsn}{'&' if '?' in dsn else '?'}{options}" if options else dsn
