"""The `local` target: the stack's services as processes on this machine, no Docker needed."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from pathlib import Path

from soberharness.db import session as db_session
from soberharness.errors import HarnessError, TargetUnavailable
from soberharness.targets import workdirs
from soberharness.targets.base import DatabaseProvisioning, Keys, Service, StackHost, Target
from soberharness.targets.lifecycle import register_cleanup
from soberharness.targets.migrations import (
    STACK_BOOTSTRAP,
    STACK_MIGRATIONS,
    Migration,
    apply_file,
    apply_up,
    bootstrap_files,
    discover,
)
from soberharness.targets.postgres import SUPERUSER, PostgresServer
from soberharness.targets.services.edge_functions import db_url, deno_available, start_functions
from soberharness.targets.services.process import ManagedProcess

TEMPLATE_DB = "sobertube_template"
DEFAULT_JWT_SECRET = "local-harness-secret-not-for-production-0123456789"
# The database the edge functions work on (a clone of the template, made when first asked for).
FUNCTIONS_DB = "sobertube_functions"


class LocalTarget(Target, DatabaseProvisioning, StackHost):
    """A private PostgreSQL (plus the services installed here) started for this run.

    The template database holds the bootstrap and the migrations; every test module
    gets a database of its own cloned from it (`new_database`).
    """

    kind = "local"
    allows_destructive = True

    def __init__(
        self,
        migrations: Path = STACK_MIGRATIONS,
        bootstrap: Path = STACK_BOOTSTRAP,
        workdir: Path | None = None,
        pg_settings: dict[str, str] | None = None,
        name: str = "local",
    ) -> None:
        self.name = name
        self.labels = {"cloud": "none", "region": "this-machine"}
        self.migrations_dir = migrations
        self.bootstrap_dir = bootstrap
        self.migrations: list[Migration] = discover(migrations)
        self._own_workdir = workdir is None
        self.workdir = workdir
        self._pg_settings = pg_settings
        self._pg: PostgresServer | None = None
        self._keys = Keys(jwt_secret=os.environ.get("SOBERHARNESS_JWT_SECRET", DEFAULT_JWT_SECRET))
        self._counter = itertools.count(1)
        self._started = False
        self._stopped = False
        self._functions: tuple[ManagedProcess, str] | None = None
        self._functions_db = False

    @property
    def pg(self) -> PostgresServer:
        """The PostgreSQL server, made (with its temporary directory) on first use; never
        again once the target was stopped (stopping is final)."""
        if self._pg is None:
            self._refuse_if_stopped()
            if self.workdir is None:
                self.workdir = workdirs.make_workdir()
                register_cleanup(self.stop)  # SIGTERM/SIGHUP/exit remove the folder too
            self._pg = PostgresServer(self.workdir / "pg", settings=self._pg_settings)
        return self._pg

    def _refuse_if_stopped(self) -> None:
        if self._stopped:
            raise TargetUnavailable(f"target '{self.name}' was stopped; it starts no new server")

    @property
    def services(self) -> frozenset[Service]:
        """PostgreSQL; the edge functions too when Deno is installed (.tools/bin/deno)."""
        if deno_available():
            return frozenset({Service.POSTGRES, Service.FUNCTIONS})
        return frozenset({Service.POSTGRES})

    @property
    def keys(self) -> Keys:
        return self._keys

    def start(self) -> None:
        if self._started:
            return
        self._refuse_if_stopped()
        self.pg.start()
        self._started = True
        try:
            self.build_template()
        except BaseException:
            self.stop()
            raise

    def build_template(self) -> None:
        self.pg.create_database(TEMPLATE_DB)
        with db_session.connect(self.pg.dsn(TEMPLATE_DB), autocommit=True) as conn:
            for path in bootstrap_files(self.bootstrap_dir):
                apply_file(conn, path)
            apply_up(conn, self.migrations)
            conn.execute("CHECKPOINT")

    def stop(self) -> None:
        """Stop the server and remove its folder. Final: the target starts no new server."""
        self._stopped = True
        if self._functions is not None:
            self._functions[0].stop()
            self._functions = None
        if self._pg is not None:
            self._pg.stop()
        self._started = False
        keep = os.environ.get("SOBERHARNESS_KEEP_WORKDIR") == "1"
        if self._own_workdir and self.workdir is not None:
            if keep:
                workdirs.keep_workdir(self.workdir)
            else:
                workdirs.remove_workdir(self.workdir)

    def url(self, service: Service) -> str:
        self.require(service)
        if service is Service.FUNCTIONS:
            return self._functions_url()
        raise HarnessError(f"service '{service}' has no URL on target '{self.name}'")

    def service_dsn(self, service: Service) -> str:
        """The edge functions work on a database of their own (FUNCTIONS_DB); the rest on
        the template's."""
        if service is Service.FUNCTIONS:
            self._functions_database()
            return self.pg.dsn(FUNCTIONS_DB)
        return self.admin_dsn()

    def _functions_database(self) -> None:
        self._refuse_if_stopped()
        self.start()
        if not self._functions_db:
            self.pg.create_database(FUNCTIONS_DB, template=TEMPLATE_DB)
            self._functions_db = True

    def _functions_url(self) -> str:
        """Deno serving stack/functions against FUNCTIONS_DB, started on first use."""
        if self._functions is None:
            self._functions_database()
            assert self.workdir is not None
            url = db_url("127.0.0.1", self.pg.port, FUNCTIONS_DB, SUPERUSER)
            self._functions = start_functions(self.workdir / "functions", url,
                                              self._keys.jwt_secret or DEFAULT_JWT_SECRET)
        return self._functions[1]

    def admin_dsn(self, database: str | None = None) -> str:
        return self.pg.dsn(database or TEMPLATE_DB)

    def new_database(self, prefix: str = "t") -> str:
        """A fresh database cloned from the migrated template; returns its name."""
        self._refuse_if_stopped()
        name = f"{prefix}_{next(self._counter)}"
        self.pg.create_database(name, template=TEMPLATE_DB)
        return name

    def empty_database(self, prefix: str = "scratch") -> str:
        """A database with the bootstrap only (no migrations), for migration tests."""
        return self.database_from(self.bootstrap_dir, [], prefix)

    def database_from(self, bootstrap: Path, migrations: list[Migration],
                      prefix: str = "stack") -> str:
        """A database built from another stack's bootstrap and migrations (for instance the
        stack at a baseline revision); returns its name."""
        name = f"{prefix}_{next(self._counter)}"
        self.pg.create_database(name)
        with db_session.connect(self.pg.dsn(name), autocommit=True) as conn:
            for path in bootstrap_files(bootstrap):
                apply_file(conn, path)
            apply_up(conn, migrations)
        return name

    def sibling(self, name: str, workdir: Path | None = None,
                pg_settings: Mapping[str, str] | None = None) -> LocalTarget:
        """Another local stack from the same files, with a PostgreSQL of its own."""
        return LocalTarget(self.migrations_dir, self.bootstrap_dir, workdir,
                           dict(pg_settings) if pg_settings is not None else None, name)

    def drop_database(self, name: str) -> None:
        if self._stopped:  # the server and all its databases are gone already
            return
        self.pg.drop_database(name)
