"""Static lints of the deployed schema, in the spirit of Supabase's splinter."""

from __future__ import annotations

import psycopg
import pytest

from soberharness.checker.lints import RULES, run_lints
from soberharness.checker.results import Severity
from soberharness.report.run_report import RunReport


@pytest.mark.needs("postgres")
def test_schema_has_no_error_findings(module_database: str, run_report: RunReport) -> None:
    with psycopg.connect(module_database, autocommit=True) as conn:
        findings = run_lints(conn)
    run_report.lints = findings
    run_report.lint_rules = [rule.name for rule in RULES]
    errors = [f for f in findings if f.severity is Severity.ERROR]
    assert not errors, "\n".join(f"{f.rule}: {f.object}: {f.message}" for f in errors)
