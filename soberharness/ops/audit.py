"""Audit logging on a stack of the harness's own: a local PostgreSQL loading pgaudit (with the
stack's bootstrap, whose 95_audit.sql turns it on), the audited changes made for real (a role,
a grant, a revoke, row level security policies, a write as service_role), and the server log
read back (soberharness.ops.audit_log judges it)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Sequence

import psycopg

from soberharness.db import session as db_session
from soberharness.ops.audit_log import SERVER_SETTINGS, AuditRecord, Expected, parse
from soberharness.targets.local import LocalTarget
from soberharness.targets.postgres import SUPERUSER

API_LOGIN = "authenticator"  # PostgREST's login role; it SETs ROLE per request


@dataclasses.dataclass(frozen=True)
class Probe:
    """A change that must be audited: run as `login` (after SET ROLE `role` if given)."""

    name: str
    login: str
    role: str | None
    sql: str  # with {t}: the probe's token
    audit_class: str
    command: str


PROBES: tuple[Probe, ...] = (
    Probe("create role", SUPERUSER, None, "create role {t} nologin", "ROLE", "CREATE ROLE"),
    Probe("grant", SUPERUSER, None, "grant select on table public.{t} to anon", "ROLE", "GRANT"),
    Probe("revoke", SUPERUSER, None, "revoke select on table public.{t} from anon", "ROLE",
          "REVOKE"),
    Probe("create policy", SUPERUSER, None,
          "create policy {t} on public.{t} for select to authenticated using (true)", "DDL",
          "CREATE POLICY"),
    Probe("drop policy", SUPERUSER, None, "drop policy {t} on public.{t}", "DDL", "DROP POLICY"),
    Probe("service_role write", API_LOGIN, "service_role",
          "insert into public.{t} (note) values ('{t}')", "WRITE", "INSERT"),
)


class AuditStack:
    """A local stack with pgaudit loaded; stopped (folder removed) by `stop()`."""

    def __init__(self, after_bootstrap: Callable[[psycopg.Connection], None] | None = None
                 ) -> None:
        self.target = LocalTarget(name="ops-audit", pg_settings=dict(SERVER_SETTINGS))
        self.after_bootstrap = after_bootstrap
        self.database = ""

    def start(self) -> AuditStack:
        try:
            self.target.start()
            self.database = self.target.new_database("audit")
            if self.after_bootstrap is not None:
                with db_session.connect(self.target.admin_dsn(self.database),
                                     autocommit=True) as conn:
                    self.after_bootstrap(conn)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.target.stop()

    def __enter__(self) -> AuditStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, login: str, role: str | None, statement: str) -> None:
        with db_session.connect(self.target.pg.dsn(self.database, user=login), autocommit=True,
                             connect_timeout=10) as conn:
            conn.execute("set statement_timeout = 10000")
            if role:
                conn.execute(f'set role "{role}"')
            conn.execute(statement)  # type: ignore[arg-type]

    def run_probes(self, probes: Sequence[Probe] = PROBES) -> list[Expected]:
        """Make each audited change (on a table of its own, named by a fresh token) and say
        what line it must leave."""
        token = "audit_probe_" + uuid.uuid4().hex[:10]
        self._run(SUPERUSER, None, f"create table public.{token} (note text)")
        self._run(SUPERUSER, None, f"grant insert on table public.{token} to service_role")
        for probe in probes:
            self._run(probe.login, probe.role, probe.sql.format(t=token))
        return [Expected(p.name, p.audit_class, p.command, p.sql.format(t=token))
                for p in probes]

    def records(self, wait_s: float = 5.0, want: int = 1) -> list[AuditRecord]:
        """The audit lines in the server log (waiting up to `wait_s` for `want` of them)."""
        deadline = time.monotonic() + wait_s
        while True:
            found = parse(self.target.pg.log_path.read_text(errors="replace"))
            if len(found) >= want or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)
