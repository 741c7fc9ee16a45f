"""Audit logging (seed 5.2.6): pgaudit on the stack's PostgreSQL (stack/bootstrap/95_audit.sql,
also mounted by the compose file and the k8s manifests), on a local stack of the harness's own
loading it. Role, grant and policy changes and a service_role write are made for real; the
server log is read back and every change must be there, with who, where and when."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.checker import auth_audit
from soberharness.ops import audit_log
from soberharness.ops.audit import PROBES, AuditStack
from soberharness.ops.audit_log import AuditRecord, Expected
from soberharness.report.run_report import RunReport

# Stacks of the suite's own on this machine, not the selected target (report.verdict).
pytestmark = [pytest.mark.destructive, pytest.mark.target_independent]


@pytest.fixture(scope="module")
def audited() -> Iterator[tuple[AuditStack, list[Expected], list[AuditRecord]]]:
    with AuditStack() as stack:
        expected = stack.run_probes()
        records = stack.records(want=len(expected))
        yield stack, expected, records


def test_every_audited_change_is_in_the_log(
        audited: tuple[AuditStack, list[Expected], list[AuditRecord]]) -> None:
    _, expected, records = audited
    assert {e.probe for e in expected} == {p.name for p in PROBES}
    assert [f.line() for f in audit_log.unlogged(expected, records)] == []


def test_the_log_says_who_where_and_when(
        audited: tuple[AuditStack, list[Expected], list[AuditRecord]],
        run_report: RunReport) -> None:
    stack, expected, records = audited
    report = audit_log.compliance(records, expected)
    assert auth_audit.leaks(report) == []  # the compliance report names roles, no e-mails
    run_report.notes["audit log (pgaudit)"] = report
    assert len(report) == len(expected)
    by_what = {row["what"]: row for row in report}
    write = by_what["WRITE INSERT"]
    # PostgREST's login; the service_role it SETs is in no field pgaudit writes.
    assert write["who"] == f"authenticator@{stack.database}"
    token = expected[0].statement.split()[-2]  # create role <token> nologin
    assert write["object"] == f"public.{token}"
    assert by_what["ROLE GRANT"]["who"] == f"supabase_admin@{stack.database}"
    assert by_what["DDL CREATE POLICY"]["object"] == f"{token} on public.{token}"
    assert all(row["when"].endswith(" UTC") for row in report)


def test_audit_is_configured_per_login_role(
        audited: tuple[AuditStack, list[Expected], list[AuditRecord]]) -> None:
    """The settings hold in every database of the cluster: they are the roles' own."""
    stack, _, _ = audited
    with stack.target.pg.admin(stack.database) as conn:
        rows = dict(conn.execute(
            "select r.rolname, s.setconfig from pg_db_role_setting s "
            "join pg_roles r on r.oid = s.setrole where s.setdatabase = 0").fetchall())
        loaded = conn.execute(
            "select count(*) from pg_extension where extname = 'pgaudit'").fetchone()
    assert loaded == (1,)
    for role in ("supabase_admin", "authenticator", "postgres"):
        assert "pgaudit.log=role, ddl, write" in (rows.get(role) or []), role
