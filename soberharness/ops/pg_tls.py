"""TLS to PostgreSQL (seed 1.1.3, 5.2.1) on a real server with a test CA.

`TlsPostgres` starts a PostgreSQL cluster of its own with `ssl=on`, a certificate the test CA
(ops/tls.py) signs for `localhost` and 127.0.0.1, and the stack's pg_hba.conf
(stack/compose/db/pg_hba.conf) as a network client here meets it (`render_hba`). `attempt`
opens one session with given libpq options and reads `pg_stat_ssl` for its backend.
`exporter_attempt` and `functions_attempt` do the same through the postgres exporter
(Debian's build, DATA_SOURCE_NAME in the stack's form) and the edge functions' own client
(stack/functions/_shared/db.ts under Deno). `findings` (pure) judges the standard cases
(`cases`): a verified session served and encrypted; a wrong host name, a plain connection and
an untrusted CA each refused, for that reason; and each service's declared connection (read
from the compose file by config/dbtls.py) served with TLS.

Each helper ends in one line, never a traceback: a server nothing answers for is
TargetUnavailable (not a refused attempt, which the judge would take for a TLS finding), a bad
port, CA file or option set is BadInput, a probe that cannot be read is HarnessError.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import ssl
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

from soberharness.config.dbtls import (
    STACK_HBA,
    Connection,
    HbaLine,
    parse_hba,
    service_connections,
)
from soberharness.db import session as db_session
from soberharness.errors import BadInput, HarnessError, TargetUnavailable
from soberharness.ops import tls, tools
from soberharness.targets.postgres import SUPERUSER, PostgresServer
from soberharness.targets.services.edge_functions import STACK_FUNCTIONS
from soberharness.targets.services.process import ManagedProcess, free_port, http_ready
from soberharness.targets.services.tools import find_tool, missing_reason

SERVER_NAME = "localhost"
SERVER_IP = "127.0.0.1"
WRONG_NAME = "db.sobertube.test"  # a name the certificate does not carry
PROBE_TIMEOUT_S = 5
EXPORTER_READY_S = 15.0
_PG_UP = re.compile(r"^pg_up (\S+)$", re.M)
_CLIENT_SSL = ("SELECT coalesce(bool_and(s.ssl), false) FROM pg_stat_ssl s JOIN pg_stat_activity a "
               "USING (pid) WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()")
DENO_TIMEOUT_S = 60.0  # the first run on a machine fetches npm:postgres
# The functions' own client (stack/functions/_shared/db.ts) reading its session's TLS.
_FUNCTIONS_PROBE = (
    'import {{ database }} from "{db}";\n'
    "const [row] = await database()`select ssl from pg_stat_ssl where pid = pg_backend_pid()`;\n"
    "console.log(JSON.stringify(row));\nawait database().end();\n")
PASSWORD_METHODS = frozenset({"scram-sha-256", "md5", "password"})
# Case -> what its refusal must say, one of (libpq's, OpenSSL's, the server's or Deno's
# words). The untrusted CA carries the same name as the trusted one, so OpenSSL takes it for
# the issuer and the signature check fails.
REFUSED_BECAUSE: Mapping[str, tuple[str, ...]] = {
    "wrong host name": ("does not match host name",),
    "plain": ("no encryption",),
    "untrusted CA": ("certificate verify failed", "signature failure",
                     "unable to verify the first certificate", "signed by unknown authority"),
}


def render_hba(lines: Sequence[HbaLine]) -> tuple[str, list[str]]:
    """The stack's pg_hba.conf as a network client here meets it, and what was changed:
    `local` lines dropped (the image's Unix socket; the harness connects over TCP), password
    methods made `trust` (the test's cluster has no passwords: under test is which
    connections get in at all, not the password check)."""
    kept, changes = [], []
    for line in lines:
        if line.kind == "local":
            changes.append(f"line {line.number} dropped (Unix socket)")
            continue
        method = line.method
        if method in PASSWORD_METHODS:
            changes.append(f"line {line.number}: {method} -> trust")
            method = "trust"
        kept.append(f"{line.kind} {line.database} {line.user} {line.address} {method}")
    return "\n".join(kept) + "\n", changes


@dataclasses.dataclass(frozen=True)
class Attempt:
    accepted: bool
    encrypted: bool
    why: str  # the refusal, one line ("" when accepted)


def _line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _checked(port: int, options: Mapping[str, str], host: bool = False) -> None:
    """BadInput for a port that is none, a CA file that is not a readable PEM certificate,
    or (`host`) options naming no host."""
    if not 0 < port < 65536:
        raise BadInput(f"port {port}: not a TCP port (1-65535)")
    if host and not options.get("host"):
        raise BadInput(f"connection options name no host: {dict(options)}")
    ca = options.get("sslrootcert")
    if ca is None or ca == "system":
        return
    try:
        ssl.create_default_context(cafile=ca)
    except FileNotFoundError:
        raise BadInput(f"CA file {ca}: No such file") from None
    except (OSError, ssl.SSLError) as error:
        raise BadInput(f"CA file {ca}: not a PEM certificate ({_line(error)})") from None


def reachable(port: int) -> None:
    """TargetUnavailable, in one line, when nothing accepts a TCP connection on the port."""
    try:
        socket.create_connection((SERVER_IP, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as error:
        raise TargetUnavailable(f"PostgreSQL on {SERVER_IP}:{port} is unreachable: "
                                f"{error.strerror or _line(error)}") from None


def attempt(port: int, options: Mapping[str, str]) -> Attempt:
    """One session to 127.0.0.1:`port` as the superuser with libpq `options` (host names
    the server for verification; hostaddr is always 127.0.0.1)."""
    _checked(port, options)
    try:
        conninfo = make_conninfo(hostaddr=SERVER_IP, port=str(port), dbname="postgres",
                                 user=SUPERUSER, **options)
    except psycopg.ProgrammingError as error:
        raise BadInput(f"connection options {dict(options)}: {_line(error)}") from None
    try:
        with db_session.connect(conninfo, connect_timeout=PROBE_TIMEOUT_S,
                                timeout_s=PROBE_TIMEOUT_S) as conn:
            row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                               ).fetchone()
    except psycopg.OperationalError as error:
        reachable(port)  # a server that is not there is no refusal
        return Attempt(False, False, _line(error))
    except psycopg.Error as error:
        raise HarnessError(f"PostgreSQL on {SERVER_IP}:{port}: {_line(error)}") from None
    return Attempt(True, bool(row and row[0]), "")


def functions_attempt(port: int, options: Mapping[str, str], workdir: Path,
                      functions_dir: Path = STACK_FUNCTIONS) -> Attempt:
    """One session through the edge functions' own client (`_shared/db.ts` under Deno) with
    SUPABASE_DB_URL in the stack's form: `options` host, sslmode, sslrootcert."""
    _checked(port, options, host=True)
    reachable(port)
    deno = find_tool("deno")
    if deno is None:
        raise TargetUnavailable(missing_reason("deno"))
    db = (functions_dir / "_shared" / "db.ts").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / "tls-probe.ts"
    probe.write_text(_FUNCTIONS_PROBE.format(db=db))
    url = _url(port, options)
    readable = ",".join([str(db.parent.parent), *([options["sslrootcert"]]
                                                  if "sslrootcert" in options else [])])
    argv = [str(deno), "run", "--no-prompt", f"--allow-net={options['host']},{SERVER_IP}",
            "--allow-env", f"--allow-read={readable}", str(probe)]
    env = {**os.environ, "SUPABASE_DB_URL": url, "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1"}
    try:
        done = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True,
                              timeout=DENO_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return Attempt(False, False, f"no answer within {DENO_TIMEOUT_S:g} s")
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
        return Attempt(False, False, first)
    try:
        row = json.loads(done.stdout.strip().splitlines()[-1])
        return Attempt(True, bool(row.get("ssl")), "")
    except (IndexError, ValueError, AttributeError):
        raise HarnessError(f"the functions' client printed no session row: "
                           f"{done.stdout.strip()[-200:]!r}") from None


def _url(port: int, options: Mapping[str, str]) -> str:
    """The stack's URL form (postgresql://user@host:port/db?sslmode=...&sslrootcert=...)."""
    query = "&".join(f"{key}={options[key]}" for key in ("sslmode", "sslrootcert")
                     if key in options)
    return f"postgresql://{SUPERUSER}@{options['host']}:{port}/postgres?{query}"


def exporter_attempt(server: PostgresServer, options: Mapping[str, str],
                     workdir: Path) -> Attempt:
    """The postgres exporter (the stack's, Debian's build) with DATA_SOURCE_NAME in the stack's
    form: accepted when its /metrics says pg_up 1, encrypted when every client session the
    server has then (the exporter's) is TLS."""
    _checked(server.port, options, host=True)
    reachable(server.port)
    program = tools.find("postgres-exporter")
    if program is None:
        raise TargetUnavailable(tools.missing("postgres-exporter") or "no postgres-exporter")
    listen = f"127.0.0.1:{free_port()}"
    process = ManagedProcess(
        "postgres-exporter-tls", [str(program), f"--web.listen-address={listen}"],
        {"DATA_SOURCE_NAME": _url(server.port, options) + "&connect_timeout=3"},
        workdir / "postgres-exporter-tls.log", http_ready(f"http://{listen}/"),
        EXPORTER_READY_S)
    workdir.mkdir(parents=True, exist_ok=True)
    process.start()
    try:
        text = httpx.get(f"http://{listen}/metrics", timeout=PROBE_TIMEOUT_S * 2).text
        with server.admin() as conn:
            row = conn.execute(_CLIENT_SSL).fetchone()
    except httpx.HTTPError as error:
        raise TargetUnavailable(f"postgres-exporter on {listen}: {_line(error)}") from None
    except psycopg.Error as error:
        raise TargetUnavailable(f"PostgreSQL on {SERVER_IP}:{server.port}: {_line(error)}"
                                ) from None
    finally:
        process.stop()
    found = _PG_UP.search(text)
    if found and found.group(1) == "1":
        return Attempt(True, bool(row and row[0]), "")
    errors = [line for line in process.log_tail(40).splitlines() if "rror" in line]
    return Attempt(False, False, f"pg_up {found.group(1) if found else 'missing'}: "
                   + (errors[-1].strip() if errors else "(no error logged)"))


def cases(ca_file: Path, other_ca_file: Path) -> dict[str, dict[str, str]]:
    """The standard cases: name -> libpq options."""
    verify = {"sslmode": "verify-full", "sslrootcert": str(ca_file)}
    return {
        "verified": {"host": SERVER_NAME, **verify},
        "wrong host name": {"host": WRONG_NAME, **verify},
        "plain": {"host": SERVER_NAME, "sslmode": "disable"},
        "untrusted CA": {"host": SERVER_NAME, "sslmode": "verify-full",
                         "sslrootcert": str(other_ca_file)},
    }


def declared_options(conn: Connection, ca_file: Path) -> dict[str, str]:
    """A service's declared connection made local: its sslmode, the test CA for its CA."""
    options = {"host": SERVER_NAME, "sslmode": conn.sslmode}
    if conn.ca_file:
        options["sslrootcert"] = str(ca_file)
    return options


def declared_cases(compose: Mapping[str, Any], ca_file: Path) -> dict[str, dict[str, str]]:
    """"<service> <setting>" -> libpq options, for each database connection the compose
    file's services declare (config/dbtls.py reads them)."""
    return {f"{name} {conn.key}": declared_options(conn, ca_file)
            for name, service in compose["services"].items()
            for conn in service_connections({str(k): str(v) for k, v in
                                             (service.get("environment") or {}).items()})}


def findings(results: Mapping[str, Attempt]) -> list[str]:
    """One line per way the results fall short (pure). Keys: the standard cases, and any
    other key is a service's declared connection, which must be served with TLS."""
    out = []
    for case, result in results.items():
        if case in REFUSED_BECAUSE:
            if result.accepted:
                out.append(f"{case}: accepted ({'TLS' if result.encrypted else 'no TLS'}), "
                           "must be refused")
            elif not any(reason in result.why for reason in REFUSED_BECAUSE[case]):
                out.append(f"{case}: refused, but not for {' or '.join(REFUSED_BECAUSE[case])}: "
                           f"{result.why}")
        elif not result.accepted:
            out.append(f"{case}: refused: {result.why}")
        elif not result.encrypted:
            out.append(f"{case}: served without TLS (pg_stat_ssl.ssl is false)")
    return out


class TlsPostgres:
    """A PostgreSQL cluster under `root` with ssl=on, the test CA's certificate and
    `hba_text` (by default the stack's pg_hba.conf, rendered), its certificate naming
    `names` and 127.0.0.1. The harness's own sessions to it verify the certificate
    (sslmode=verify-full)."""

    def __init__(self, root: Path, hba_text: str | None = None,
                 names: tuple[str, ...] = (SERVER_NAME,)) -> None:
        self.root = root
        stack_text = STACK_HBA.read_text(encoding="utf-8")
        self.hba_text, self.hba_changes = render_hba(parse_hba(hba_text or stack_text))
        self.ca = tls.make_test_ca(root / "tls", names=names, ips=(SERVER_IP,))
        self.other_ca = tls.make_test_ca(root / "other-ca", names=(SERVER_NAME,), ips=(SERVER_IP,))
        hba = root / "pg_hba.conf"
        hba.write_text(self.hba_text)
        self.server = PostgresServer(
            root / "pg",
            settings={"ssl": "on", "ssl_cert_file": str(self.ca.folder / "tls.crt"),
                      "ssl_key_file": str(self.ca.folder / "tls.key"), "hba_file": str(hba),
                      "max_connections": "20", "shared_buffers": "16MB"},
            client_options=f"sslmode=verify-full sslrootcert={self.ca.ca_file}")
        if self.server.account is not None:  # as root the server runs as another account
            account = self.server.account
            os.chown(self.ca.folder / "tls.key", account.pw_uid, account.pw_gid)

    @property
    def port(self) -> int:
        return self.server.port

    def standard_cases(self) -> dict[str, dict[str, str]]:
        return cases(self.ca.ca_file, self.other_ca.ca_file)

    def __enter__(self) -> TlsPostgres:
        self.server.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.server.stop()
