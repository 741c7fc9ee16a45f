"""The storage schema as it is on the target (the bootstrap copy, or a Storage API's own
migrations): grants no wider than the policies need, the Storage API's delete path, and the role
grant the Storage API needs to switch roles; the Storage API's own objects as its registry says
for the schema version seen. The schema seen, and its version, go into the run report."""

from __future__ import annotations

import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.lints.storage_api_objects import KnownStorageApi
from soberharness.lints.storage_schema import (
    delete_path_findings,
    describe,
    grant_findings,
    role_grant_findings,
)
from soberharness.records.results import LintFinding
from soberharness.report.run_report import RunReport


def _lines(findings: list[LintFinding]) -> str:
    return "\n".join(f"{f.rule}: {f.object}: {f.message}" for f in findings)


@pytest.fixture(scope="module")
def storage_conn(module_database: str, run_report: RunReport):  # type: ignore[no-untyped-def]
    with db_session.connect(module_database, autocommit=True) as conn:
        run_report.notes["storage schema"] = describe(conn).as_note()
        yield conn


@pytest.mark.needs("postgres")
def test_storage_grants_are_no_wider_than_the_policies(storage_conn: psycopg.Connection) -> None:
    findings = grant_findings(storage_conn)
    assert not findings, _lines(findings)


@pytest.mark.needs("postgres")
def test_storage_deletes_follow_the_storage_api_path(storage_conn: psycopg.Connection) -> None:
    findings = delete_path_findings(storage_conn)
    assert not findings, _lines(findings)


@pytest.mark.needs("postgres")
def test_storage_admin_can_switch_to_the_api_roles(storage_conn: psycopg.Connection) -> None:
    findings = role_grant_findings(storage_conn)
    assert not findings, _lines(findings)


@pytest.mark.needs("postgres")
def test_storage_api_objects_are_as_its_registry_says(storage_api: KnownStorageApi) -> None:
    # Its internal tables reach no row, its functions run as the invoker, and no API role can
    # redirect them through the search path; the version seen is in the run report.
    assert not storage_api.problems, _lines(list(storage_api.problems))
