"""Under `pytest -n 2` the workers' results make one report: summary.json and the run page
name the target and hold every worker's cells, and the terminal shows one summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from soberharness.records.results import Cell, CellResult, LintFinding, Op, Severity
from soberharness.report.run_report import RunReport
from soberharness.report.xdist_merge import merge_reports, report_from_data, report_to_data

REPO = Path(__file__).resolve().parents[2]

MODULE = """
import os
from soberharness.records.results import Cell, CellResult, Op

def test_cells_{n}(run_report):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    run_report.cells.append(CellResult(Cell("posts", Op.SELECT, "stranger", "public",
                                            "from module {n} on " + worker), True, {ok}))
"""


def test_reports_survive_the_trip_and_merge() -> None:
    a = Cell("posts", Op.SELECT, "stranger", "public", "visible")
    b = Cell("posts", Op.DELETE, "anon", "private", "visible")
    lint = LintFinding("rls_disabled", Severity.ERROR, "public.t", "off")
    one = RunReport("local", "local", "r1", started=10.0, cells=[CellResult(a, True, True)],
                    lints=[lint], lint_rules=["rls_disabled"], secrets=["never-sent"])
    two = RunReport("local", "local", "r1", started=5.0,
                    cells=[CellResult(a, True, False, "1 row"), CellResult(b, False, False)],
                    lints=[lint], notes={"k": 1}, matrix_seconds=2.0)
    data = report_to_data(one)
    assert "never-sent" not in json.dumps(data)
    merged = merge_reports([report_from_data(data), report_from_data(report_to_data(two))],
                           ["s"])
    assert {(r.cell, r.ok) for r in merged.cells} == {(a, False), (b, True)}
    assert merged.lints == [lint] and merged.started == 5.0 and merged.matrix_seconds == 2.0
    assert merged.notes == {"k": 1} and merged.secrets == ["s"] and merged.run_id == "r1"


@pytest.mark.needs("postgres")
def test_two_workers_make_one_report(tmp_path: Path, target) -> None:
    """This session's database as a remote target offering only `postgres` (reachable, and
    quick: the workers start no server of their own)."""
    for n, ok in ((1, True), (2, False)):
        (tmp_path / f"test_part{n}.py").write_text(MODULE.format(n=n, ok=ok))
    (tmp_path / "database-only.toml").write_text(
        'name = "database-only"\n[secrets]\ndatabase_dsn_env = "OUTER_DSN"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBERHARNESS_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "soberharness.pytest_plugin", "-p",
         "no:cacheprovider", "-q", "-n", "2", "--dist", "loadscope", "--target",
         "database-only.toml",
         "--report-dir", str(tmp_path / "reports" / "latest")],
        cwd=tmp_path, env=env | {"TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO),
                                 "OUTER_DSN": target.admin_dsn()},
        capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    summary = json.loads((tmp_path / "reports" / "latest" / "summary.json").read_text())
    assert summary["target"]["name"] == "database-only"
    assert summary["matrix"]["cells_checked"] == 2
    assert [m["case"].split(" on ")[0] for m in summary["matrix"]["mismatches"]] == \
        ["from module 2"]
    run = json.loads(next((tmp_path / "reports" / "runs").glob("*/summary.json")).read_text())
    assert run["target"]["name"] == "database-only" and run["matrix"]["cells_checked"] == 2
    assert run["run_id"] == summary["run_id"]
    assert sum(line.startswith("soberharness on database-only:")
               for line in output.splitlines()) == 1
    assert "2 cells checked, 1 mismatches" in output
    assert not list((tmp_path / "reports" / "latest").glob("gw*")), "per-worker reports"
