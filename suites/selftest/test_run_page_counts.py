"""The run page's Failures header counts failing tests as pytest does: the mismatches and lint
findings behind them are listed, not counted again, and a declared finding is no failure
(issue 22, item 16: "13 failure(s)" where pytest had 8)."""

from __future__ import annotations

import re
from pathlib import Path

from soberharness.records.results import Cell, CellResult, LintFinding, Op, Severity
from soberharness.report.run_folder import CaseResult, write_run
from soberharness.report.run_report import RunReport


def test_failures_header_counts_tests_once_and_leaves_declared_findings_out(
        tmp_path: Path) -> None:
    report = RunReport(target="made-up", target_kind="remote", run_id="counts")
    bad = Cell("posts", Op.SELECT, "stranger", "private", "visible")
    report.cells = [CellResult(bad, False, True, "1 row"),
                    CellResult(Cell("posts", Op.SELECT, "stranger", "private", "hidden"), False,
                               True, "1 row")]
    report.lints = [
        LintFinding("rls_disabled", Severity.ERROR, "public.open_table", "rls is off"),
        LintFinding("rls_enabled_no_policy", Severity.ERROR, "storage.migrations", "no policy",
                    declared="internal table of the Storage API"),
    ]
    cases = [CaseResult("suites/security/test_access_matrix.py::test_matrix", "failed", 1.0,
                        "E   AssertionError: 2 mismatches"),
             CaseResult("suites/security/test_schema_lints.py::test_no_errors", "failed", 0.1,
                        "E   AssertionError: 1 lint error")]
    page, _ = write_run(tmp_path / "runs", report, cases, None, None, [], [])
    text = page.read_text()
    failures = text[text.index("id='failures'"):text.index("</ol>")]
    header = re.search(r"<div class='bad-box'>([^<]*)</div>", failures)
    assert header is not None and header.group(1) == "2 failing tests; 3 findings listed below"
    assert "public.open_table" in failures
    assert "storage.migrations" not in failures, "a declared finding is listed as a failure"
