"""The matrix covers the deployed schema (a new table or updatable column without cases fails;
the Storage API's internal tables and bookkeeping columns are known per schema version), and the
buckets are set as the rules say."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.checker.buckets import bucket_findings
from soberharness.config.envfile import read_env_file
from soberharness.db import session as db_session
from soberharness.lints.coverage import matrix_surface, reachable_surface, uncovered
from soberharness.lints.storage_api_objects import KnownStorageApi
from soberharness.world.matrix_world import build_matrix_world

STACK_ENV = Path(__file__).resolve().parents[2] / "stack" / "env" / "local.env.example"


def storage_size_limit() -> int:
    """The Storage API's global upload limit as the stack configures it."""
    return int(read_env_file(STACK_ENV)["STORAGE_FILE_SIZE_LIMIT"])


@pytest.mark.needs("postgres")
def test_every_reachable_table_and_column_has_matrix_cases(
    module_database: str, storage_api: KnownStorageApi
) -> None:
    with db_session.connect(module_database, autocommit=True) as conn:
        reachable = reachable_surface(conn)
    assert reachable.operations, "the catalog shows tables the API roles reach"
    problems = uncovered(reachable, matrix_surface(build_matrix_world()), storage_api)
    assert not problems, "\n".join(problems)


@pytest.mark.needs("postgres")
def test_buckets_are_set_as_the_rules_say(module_database: str) -> None:
    with db_session.connect(module_database, autocommit=True) as conn:
        findings = bucket_findings(conn, storage_size_limit())
    assert not findings, "\n".join(f"{f.object}: {f.message}" for f in findings)
