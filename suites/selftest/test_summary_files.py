"""reports/latest: summary.md shows notes as bullets, not Python reprs of dicts, and a run that
checked no matrix cell (a steps replay) leaves the last matrix page alone (issue 22, item 18)."""

from __future__ import annotations

from pathlib import Path

from soberharness.records.results import Cell, CellResult, Op
from soberharness.report.run_report import RunReport


def test_summary_md_writes_notes_as_bullets(tmp_path: Path) -> None:
    report = RunReport("local", "local", "r1", notes={
        "exposed surface": {"functions": ["public.search", "public.feed"], "calls": 32,
                            "per actor": {"anon": 8, "u1": 8}},
        "storage schema": {"tables": {"objects": ["id", "name"]}, "version": "v1"},
        "state machine steps": 120,
    })
    text = report.write(tmp_path)[1].read_text()
    assert "{'" not in text and "['" not in text, text
    assert "- exposed surface:\n  - functions: public.search, public.feed\n  - calls: 32\n" \
        "  - per actor:\n    - anon: 8\n    - u1: 8\n" in text, text
    assert "- storage schema:\n  - tables:\n    - objects: id, name\n  - version: v1\n" in text
    assert "- state machine steps: 120\n" in text


def test_a_run_without_cells_keeps_the_last_matrix_page(tmp_path: Path) -> None:
    cell = Cell("posts", Op.SELECT, "stranger", "private", "visible-to-no-one")
    RunReport("local", "local", "r1", cells=[CellResult(cell, False, False)]).write(tmp_path)
    assert "visible-to-no-one" in (tmp_path / "matrix.html").read_text()
    paths = RunReport("local", "local", "r2", notes={"state machine steps": 5}).write(tmp_path)
    assert tmp_path / "matrix.html" not in paths
    assert "visible-to-no-one" in (tmp_path / "matrix.html").read_text()
    assert "r2" in (tmp_path / "summary.json").read_text()
