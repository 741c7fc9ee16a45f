"""Scratch databases on a target's own server that carry the target's real copy of a schema.

The local target clones throwaway databases from its template, whose `auth` schema is the
bootstrap's stub (stack/bootstrap/10_auth.sql). Checks that must see the schema a real
service made (GoTrue's `auth` after its own migrations) build a scratch database on the
target's server instead: the stack's bootstrap in order, with the target's schema — dumped
with `pg_dump --schema-only` from the database the service uses — in place of the bootstrap
file that stubs it, then the stack's migrations. Dropped afterwards.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.targets.base import Target
from soberharness.targets.migrations import (
    STACK_BOOTSTRAP,
    STACK_MIGRATIONS,
    apply_file,
    apply_up,
    bootstrap_files,
    discover,
)

DUMP_TIMEOUT = 120.0
# The bootstrap file that stubs each schema a real service owns.
STUBS = {"auth": "10_auth.sql", "storage": "20_storage.sql"}


def dump_schema(dsn: str, schema: str, timeout: float = DUMP_TIMEOUT) -> str:
    """The DDL of `schema` in the database at `dsn` (pg_dump --schema-only)."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise HarnessError("pg_dump is not installed (PostgreSQL's client tools)")
    try:
        done = subprocess.run([pg_dump, "--schema-only", f"--schema={schema}", "--no-privileges",
                               "--dbname", dsn], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"pg_dump of schema {schema} took longer than {timeout:g} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1]
        raise HarnessError(f"pg_dump of schema {schema} failed: {last}")
    # pg_dump since 15.14/17.6 brackets its output with psql meta-commands (\restrict ...,
    # \unrestrict ...): they are not SQL.
    return "\n".join(line for line in done.stdout.splitlines() if not line.startswith("\\"))


@contextmanager
def database_with_schema_of(target: Target, schema: str, prefix: str = "scratch",
                            bootstrap: Path = STACK_BOOTSTRAP,
                            migrations: Path = STACK_MIGRATIONS) -> Iterator[str]:
    """DSN of a new database on the target's server: the stack, with the target's own
    `schema` in place of its bootstrap stub. Raises HarnessError (one line) when the target
    does not allow it (no CREATEDB, no pg_dump, ...)."""
    stub = STUBS[schema]
    ddl = dump_schema(target.admin_dsn(), schema)
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with db_session.connect(target.admin_dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise HarnessError(f"cannot create a scratch database on target '{target.name}': "
                           f"{(exc.diag.message_primary or str(exc)).strip()}") from None
    try:
        with db_session.connect(target.admin_dsn(name), autocommit=True,
                                connect_timeout=10) as conn:
            for path in bootstrap_files(bootstrap):
                if path.name == stub:
                    try:
                        with conn.transaction():
                            conn.execute(ddl.encode())
                    except psycopg.Error as exc:
                        raise HarnessError(
                            f"the {schema} schema of target '{target.name}' does not load into "
                            f"a scratch database: {(exc.diag.message_primary or exc)}") from None
                    conn.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")
                else:
                    apply_file(conn, path)
            apply_up(conn, discover(migrations))
        yield target.admin_dsn(name)
    finally:
        with db_session.connect(target.admin_dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
