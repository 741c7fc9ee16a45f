"""Finding and applying migrations: the stack's own or another project's folder."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import psycopg

from soberharness.errors import HarnessError, MigrationError
from soberharness.paths import REPO
from soberharness.targets import sql_timeout
from soberharness.targets.sqlfiles import split_statements

STACK_BOOTSTRAP = REPO / "stack" / "bootstrap"
STACK_MIGRATIONS = REPO / "stack" / "migrations"


@dataclasses.dataclass(frozen=True)
class Migration:
    name: str
    up: Path
    down: Path | None


def discover(folder: Path) -> list[Migration]:
    """Migrations in name order, in either layout.

    - `NNNN_name/up.sql` with an optional `down.sql` (this project's layout);
    - flat `NNNN_name.sql` files (Supabase CLI's `supabase/migrations`), with an optional
      `NNNN_name.down.sql` beside each.
    """
    if not folder.is_dir():
        raise HarnessError(f"migrations folder {folder} does not exist or is not a folder")
    found: list[Migration] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and (entry / "up.sql").exists():
            down = entry / "down.sql"
            found.append(Migration(entry.name, entry / "up.sql", down if down.exists() else None))
        elif entry.is_file() and entry.suffix == ".sql" and not entry.name.endswith(".down.sql"):
            down = entry.with_name(entry.name[: -len(".sql")] + ".down.sql")
            found.append(Migration(entry.stem, entry, down if down.exists() else None))
    if not found:
        raise HarnessError(f"migrations folder {folder} holds no migrations (*.sql or */up.sql)")
    return found


def bootstrap_files(folder: Path = STACK_BOOTSTRAP) -> list[Path]:
    files = sorted(p for p in folder.glob("*.sql"))
    if not files:
        raise HarnessError(f"bootstrap folder {folder} holds no .sql files")
    return files


def apply_file(conn: psycopg.Connection, path: Path) -> None:
    """Apply one SQL file in one transaction; a failure names the file, line and statement."""
    where = _display(path)
    text = read_sql(path, where)
    seconds = sql_timeout.statement_timeout_s()
    with conn.transaction():
        conn.execute(sql_timeout.set_local_sql(seconds))
        for statement in split_statements(text):
            try:
                conn.execute(statement.text.encode())
            except psycopg.Error as exc:
                cause = (exc.diag.message_primary or str(exc)).strip()
                if exc.sqlstate == sql_timeout.TIMED_OUT:
                    cause = f"{cause}: {sql_timeout.timeout_hint(seconds)}"
                raise MigrationError(f"{where}:{statement.line}", statement.text, cause) from None
            if sql_timeout.touches_timeout(statement.text):
                conn.execute(sql_timeout.set_local_sql(seconds))


def read_sql(path: Path, where: str | None = None) -> str:
    """The text of a SQL file; one line naming the file when it cannot be read or is not
    UTF-8 (what PostgreSQL and the Supabase CLI expect)."""
    where = where or _display(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"{where}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise HarnessError(
            f"{where}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}): save the file as UTF-8"
        ) from None


def missing_down_steps(migrations: list[Migration]) -> list[str]:
    """Names of the migrations without a down step (down files are optional)."""
    return [m.name for m in migrations if m.down is None]


def apply_up(conn: psycopg.Connection, migrations: list[Migration]) -> None:
    for migration in migrations:
        apply_file(conn, migration.up)


def apply_down(conn: psycopg.Connection, migrations: list[Migration]) -> None:
    for migration in reversed(migrations):
        if migration.down is None:
            raise HarnessError(f"migration {migration.name} has no down step")
        apply_file(conn, migration.down)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def migration_label(folder: Path) -> str:
    return re.sub(r"\s+", " ", _display(folder))
