"""Under pytest-xdist (`pytest -n N`) the workers run the tests and each fills a RunReport of
its own; the controller merges them into one report (summary.json, the run page with the
target and every cell) and prints one terminal summary.

The controller hands every worker the run's id (`workerinput`), so their worlds and reports
share it; each worker hands its report back as plain data (`workeroutput`: execnet carries
only basic types). Secrets never travel: the controller redacts with its own target's keys.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from soberharness.records.results import Cell, CellResult, LintFinding, Op, Severity
from soberharness.report.run_report import RunReport

RUN_ID_KEY = "soberharness_run_id"
TARGET_USED_KEY = "soberharness_target_used"
REPORT_KEY = "soberharness_report"


def report_to_data(report: RunReport) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data.pop("secrets")
    data["cells"] = [[c.cell.table, c.cell.op.value, c.cell.actor, c.cell.privacy, c.cell.case,
                      c.expected, c.actual, c.detail] for c in report.cells]
    data["lints"] = [[f.rule, f.severity.value, f.object, f.message, f.declared]
                     for f in report.lints]
    return data


def report_from_data(data: dict[str, Any]) -> RunReport:
    fields = dict(data)
    fields["cells"] = [CellResult(Cell(t, Op(op), actor, privacy, case), expected, actual, detail)
                       for t, op, actor, privacy, case, expected, actual, detail in data["cells"]]
    # A finding keeps its declaration: a declared (accepted) warning must not fail the run.
    fields["lints"] = [LintFinding(rule, Severity(sev), obj, msg, declared)
                       for rule, sev, obj, msg, declared in data["lints"]]
    return RunReport(**fields)


def merge_reports(parts: list[RunReport], secrets: list[str]) -> RunReport:
    """One report from the workers' (in worker order). A cell or finding two workers both
    checked (each ran a session fixture) counts once; a mismatch wins over an agreement."""
    first = parts[0]
    cells: dict[Cell, CellResult] = {}
    for part in parts:
        for result in part.cells:
            if result.cell not in cells or not result.ok:
                cells[result.cell] = result
    lints = list(dict.fromkeys(f for part in parts for f in part.lints))
    rules = list(dict.fromkeys(r for part in parts for r in part.lint_rules))
    notes: dict[str, Any] = {}
    for part in parts:
        notes.update(part.notes)
    return dataclasses.replace(
        first, started=min(p.started for p in parts), cells=list(cells.values()),
        matrix_seconds=max(p.matrix_seconds for p in parts), lints=lints, lint_rules=rules,
        notes=notes, secrets=list(secrets))


class XdistReports:
    """The controller's side: give workers the run id, collect their reports."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.parts: list[RunReport] = []
        self.target_used = False  # a worker started the target (the leftover check looks)

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[RUN_ID_KEY] = self.run_id

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        self.target_used = self.target_used or bool(output.get(TARGET_USED_KEY))
        data = output.get(REPORT_KEY)
        if data:
            self.parts.append(report_from_data(data))
