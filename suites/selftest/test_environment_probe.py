"""The environment a run records (targets.environment): settings that change behaviour are read
as the app's roles get them, so the parity report can explain a difference."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.targets.environment import migrations_version, postgres_environment
from soberharness.targets.migrations import STACK_MIGRATIONS


@pytest.mark.needs("postgres")
def test_planted_settings_show_in_the_environment(scratch_database: str) -> None:
    before = postgres_environment(scratch_database)
    name = psycopg.conninfo.conninfo_to_dict(scratch_database)["dbname"]
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(f'alter database "{name}" set statement_timeout = \'42s\'')
        conn.execute(f'alter role anon in database "{name}" set statement_timeout = \'7s\'')
        conn.execute(f'alter database "{name}" set lock_timeout = \'2s\'')
    after = postgres_environment(scratch_database)
    assert after["settings"]["statement_timeout"] == "42000ms"
    assert after["settings"]["lock_timeout"] == "2000ms"
    assert before["settings"]["statement_timeout"] != "42000ms"
    # The role's own setting for this database wins over its cluster-wide one (3 s).
    assert before["role_settings"]["anon"] == ["statement_timeout=3s"]
    assert after["role_settings"]["anon"] == ["statement_timeout=7s"]
    assert after["role_settings"]["authenticated"] == before["role_settings"]["authenticated"]
    assert {"pgcrypto", "uuid-ossp"} <= set(after["extensions"])
    assert after["server_version_num"] >= 150000


def test_the_stack_version_is_the_migration_names_and_their_text(tmp_path: Path) -> None:
    import shutil

    stock = migrations_version(STACK_MIGRATIONS)
    copy = tmp_path / "migrations"
    shutil.copytree(STACK_MIGRATIONS, copy)
    up = copy / "0004_policies" / "up.sql"
    up.write_text(up.read_text() + "\n-- a comment\n")
    changed = migrations_version(copy)
    assert changed["names"] == stock["names"] and "0004_policies" in stock["names"]
    assert changed["digest"] != stock["digest"]
    assert migrations_version(tmp_path / "none") == {
        "error": f"HarnessError: migrations folder {tmp_path / 'none'} does not exist or is not "
                 "a folder"}
