"""`--report-dir X` keeps everything under X: the latest run's files, runs/ and index.html
(issue 22, item 18: runs/ and index.html went into X's parent). The default layout stays
reports/latest beside reports/runs and reports/index.html."""

from __future__ import annotations

from pathlib import Path

from soberharness.report.run_facts import reports_root, runs_root
from soberharness.testing.pytest_runs import run_pytest

A_TEST = "def test_nothing_about_a_target():\n    assert 1 + 1 == 2\n"


def test_the_default_layout_keeps_latest_beside_runs() -> None:
    assert reports_root(Path("reports/latest")) == Path("reports")
    assert runs_root(Path("reports/latest")) == Path("reports/runs")


def test_a_report_dir_of_ones_own_holds_runs_and_the_index(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "test_a.py").write_text(A_TEST)
    mine = tmp_path / "work" / "my-reports"
    run_pytest(tmp_path / "work", "--report-dir", str(mine), "--allow-all-skipped")
    assert (mine / "index.html").exists()
    pages = list((mine / "runs").glob("*/index.html"))
    assert len(pages) == 1, sorted(p for p in mine.rglob("*"))
    assert (mine / "summary.json").exists() or (pages[0].parent / "summary.json").exists()
    assert not (tmp_path / "work" / "runs").exists() and not (tmp_path / "work" / "index.html")\
        .exists(), "the run folder went beside the report dir"
