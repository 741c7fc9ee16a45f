"""Planted defect the audit check (suites/ops/test_audit.py) must report: pgaudit.log without
the `role` class for the admin role, so its role changes and grants go unlogged; exactly those
probes are reported, the policy changes and the write still are logged."""

from __future__ import annotations

import psycopg

from soberharness.ops import audit_log
from soberharness.ops.audit import AuditStack


def _drop_role_class(conn: psycopg.Connection) -> None:
    conn.execute("alter role supabase_admin set pgaudit.log = 'ddl, write'")


def test_planted_unlogged_grant_is_reported() -> None:
    with AuditStack(after_bootstrap=_drop_role_class) as stack:
        expected = stack.run_probes()
        records = stack.records(want=3)
    found = audit_log.unlogged(expected, records)
    assert [f.subject for f in found] == ["create role", "grant", "revoke"]
    assert found[1].line().startswith("unlogged change: grant: no AUDIT line ROLE,GRANT for: "
                                      "grant select on table public.audit_probe_")


def test_parse_keeps_only_audit_lines() -> None:
    log = (
        '2026-01-01 00:00:00.000 UTC [7] u@d LOG:  AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,'
        'public.t,"create table t (a text, b text)",<not logged>\n'
        "2026-01-01 00:00:00.000 UTC [7] u@d LOG:  statement: select 1\n"
        "2026-01-01 00:00:00.000 UTC [8] LOG:  AUDIT: SESSION,2,1,WRITE,INSERT,TABLE,public.t,"
        "insert into t values (1),<not logged>\n")
    records = audit_log.parse(log)
    assert [(r.user, r.database, r.audit_class, r.command, r.statement) for r in records] == [
        ("u", "d", "DDL", "CREATE TABLE", "create table t (a text, b text)"),
        ("", "", "WRITE", "INSERT", "insert into t values (1)")]
