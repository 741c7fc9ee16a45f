"""The storage schema as it is on the target (the bootstrap copy, or a Storage API's own
migrations): grants no wider than the policies need, the Storage API's delete path, and the role
grant the Storage API needs to switch roles. The schema seen goes into the run report."""

from __future__ import annotations

import psycopg
import pytest

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
    with psycopg.connect(module_database, autocommit=True) as conn:
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
