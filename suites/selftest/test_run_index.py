"""The index of runs shows each run's suites and migrations and a trend over runs: verdicts,
matrix mismatches and time per suite (issue 22, item 17)."""

from __future__ import annotations

import re
from pathlib import Path

from soberharness.records.results import Cell, CellResult, Op
from soberharness.report import run_index
from soberharness.report.run_folder import CaseResult, write_run
from soberharness.report.run_page import render_index
from soberharness.report.run_report import RunReport


def _doc(run_id: str, verdict: str, mismatches: int | None, seconds: dict[str, float]) -> dict:
    cases = [{"nodeid": f"suites/{s}/test_x.py::test_{i}", "suite": s, "outcome": "passed",
              "duration": secs / 2, "message": ""} for s, secs in seconds.items() for i in (1, 2)]
    return {"run_id": run_id, "verdict": verdict, "started": "2026-12-07T04:00:00+00:00",
            "duration_s": sum(seconds.values()), "target": {"name": "local"},
            "migrations": "/repo/stack/migrations",
            "environment": {"migrations": {"names": ["0001_types", "0011_edge_functions"],
                                           "digest": "b178a6e2f14d7c0f"}},
            "tests": {"counts": {"passed": len(cases)}, "cases": cases},
            "matrix": {"cells_checked": 0 if mismatches is None else 100,
                       "mismatches": [{}] * (mismatches or 0)},
            "benchmarks": {"gate": None}}


DOCS = [_doc("run-c", "failed", 3, {"security": 40.0, "auth": 5.0}),  # newest first
        _doc("run-b", "passed", None, {"storage": 12.0}),
        _doc("run-a", "passed", 0, {"security": 38.0})]


def test_trend_points_are_oldest_first_with_verdict_mismatches_and_suite_time() -> None:
    points = run_index.trend_points(DOCS)
    assert [p["label"] for p in points] == ["run-a", "run-b", "run-c"]
    assert [p["verdict"] for p in points] == ["passed", "passed", "failed"]
    assert [p["mismatches"] for p in points] == [0, None, 3]
    assert points[2]["suite_seconds"] == {"security": 40.0, "auth": 5.0}


def test_the_index_has_suites_migrations_and_a_trend_plot() -> None:
    text = render_index(DOCS)
    rows = re.findall(r"<td class='l suites'>([^<]*)</td><td class='l migrations'>([^<]*)</td>",
                      text)
    assert rows[0] == ("auth 2, security 2",
                       "migrations: 2 (last 0011_edge_functions, digest b178a6e2f14d7c0f)")
    assert rows[1][0] == "storage 2"
    assert len(re.findall(r'<img class="plot" alt="trend: verdicts, mismatches and suite time',
                          text)) == 1
    assert text.index("id='trend'") < text.index("<table class='runs'>")


def test_the_index_written_with_the_runs_plots_the_trend(tmp_path: Path) -> None:
    for run_id, wrong in (("one", False), ("two", True)):
        report = RunReport(target="made-up", target_kind="remote", run_id=run_id)
        cell = Cell("posts", Op.SELECT, "stranger", "private", "visible")
        report.cells = [CellResult(cell, False, wrong, "1 row")]
        cases = [CaseResult("suites/security/test_access_matrix.py::test_matrix",
                            "failed" if wrong else "passed", 1.0)]
        _, index = write_run(tmp_path / "runs", report, cases, None, None, [], [])
    text = index.read_text()
    assert "alt=\"trend: verdicts" in text
    assert re.search(r"<td class='l suites'>security 1</td>", text)
