"""The verdict of a run from pytest's own reports: a test counts only once it reached a verdict,
and an interrupted, crashed or all-skipped run is not PASSED (page, index and JUnit)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from _pytest.reports import TestReport

from soberharness.report.run_folder import cases_from_reports, junit_xml, run_verdict


def _report(nodeid: str, when: str, outcome: str = "passed") -> TestReport:
    longrepr = ("x.py", 1, "Skipped: needs auth") if outcome == "skipped" else (
        "boom" if outcome == "failed" else None)
    return TestReport(nodeid, ("x.py", 1, nodeid), {}, outcome, longrepr, when)  # type: ignore[arg-type]


def _ran(nodeid: str) -> list[TestReport]:
    return [_report(nodeid, phase) for phase in ("setup", "call", "teardown")]


def test_a_test_interrupted_inside_its_call_is_not_counted() -> None:
    # 63 tests ran, the 64th was set up and then Ctrl-C came (no call, no teardown report).
    reports = [r for n in range(63) for r in _ran(f"t.py::test_{n}")]
    reports.append(_report("t.py::test_63", "setup"))
    cases = cases_from_reports(reports)
    assert len(cases) == 63 and {c.outcome for c in cases} == {"passed"}
    assert run_verdict(cases, failed=False, exitstatus=2) == "interrupted"


def test_outcomes_of_each_phase() -> None:
    reports = [
        *_ran("t.py::test_ok"),
        _report("t.py::test_skip", "setup", "skipped"),
        _report("t.py::test_skip", "teardown"),
        _report("t.py::test_fail", "setup"), _report("t.py::test_fail", "call", "failed"),
        _report("t.py::test_fail", "teardown"),
        _report("t.py::test_setup_error", "setup", "failed"),
        *_ran("t.py::test_teardown_error")[:2], _report("t.py::test_teardown_error", "teardown",
                                                        "failed"),
    ]
    outcomes = {c.nodeid.split("::")[1]: c.outcome for c in cases_from_reports(reports)}
    assert outcomes == {"test_ok": "passed", "test_skip": "skipped", "test_fail": "failed",
                        "test_setup_error": "error", "test_teardown_error": "error"}


def test_verdicts() -> None:
    passed = cases_from_reports(_ran("t.py::a"))
    skipped = cases_from_reports([_report("t.py::b", "setup", "skipped")])
    assert run_verdict(passed, failed=False) == "passed"
    assert run_verdict(passed + skipped, failed=False) == "passed"
    assert run_verdict(skipped, failed=False) == "skipped"
    assert run_verdict(skipped, failed=False, exitstatus=5) == "skipped"
    assert run_verdict(passed, failed=True) == "failed"
    assert run_verdict(passed, failed=False, exitstatus=1) == "failed"  # e.g. a collection error
    assert run_verdict(passed, failed=False, exitstatus=2) == "interrupted"
    assert run_verdict(passed, failed=False, exitstatus=3) == "error"  # pytest crashed
    assert run_verdict([], failed=False, exitstatus=4) == "error"  # the harness stopped the run


def test_junit_does_not_show_an_all_skipped_or_interrupted_run_green() -> None:
    skipped = cases_from_reports([_report("suites/x/t.py::b", "setup", "skipped")])
    root = ET.fromstring(junit_xml("r1", skipped, "skipped").split("\n", 1)[1])
    assert root.find("properties/property[@name='verdict']").get("value") == "skipped"
    failures = root.findall(".//failure")
    assert len(failures) == 1 and failures[0].get("message", "").startswith("skipped:")
    root = ET.fromstring(junit_xml("r2", cases_from_reports(_ran("suites/x/t.py::a")),
                                   "interrupted", "interrupted (Ctrl-C)").split("\n", 1)[1])
    assert [f.text for f in root.findall(".//failure")] == ["interrupted (Ctrl-C)"]
    root = ET.fromstring(junit_xml("r3", cases_from_reports(_ran("suites/x/t.py::a")),
                                   "passed").split("\n", 1)[1])
    assert root.findall(".//failure") == []


def test_report_timestamps_carry_no_microseconds() -> None:
    import re

    from soberharness.report.run_report import RunReport

    started = RunReport("local", "local", "r", started=1764620000.123456).summary()["started"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", started), started
