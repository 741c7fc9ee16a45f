"""The run page of a failing run as headless Chromium shows it in a 1400 px window (issue 22,
item 16): the Failures header counts what pytest counts, declared lint findings are marked as
declared with their reason, every test is listed with a filter, failures read as text (no
Python reprs), and the matrix grids (twelve actors) fit the window with their head kept in view
and the token's claims in a column. Chromium comes from Debian (scripts/setup.sh installs it);
without it this test fails, it does not skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.records.results import Cell, CellResult, LintFinding, Op, Severity
from soberharness.report.run_folder import CaseResult, write_run
from soberharness.report.run_report import RunReport
from soberharness.testing import browser
from soberharness.world.matrix_world import ACTORS

WIDTH = 1400
RAW_REPR = ("E       AssertionError: stranger select posts [visible] of a private owner: "
            "expected deny, got allow\n"
            "E       assert not [CellResult(cell=Cell(table='posts', op=<Op.SELECT: 'select'>, "
            "actor='stranger', privacy='private', case='visible', token=''), expected=False, "
            "actual=True, detail='1 row', ids=frozenset({UUID('00000000-0000-0000-0000-"
            "000000000005')}))]\n\nsuites/security/test_access_matrix.py:25: AssertionError")


def _failing_report() -> RunReport:
    report = RunReport(target="made-up", target_kind="remote", run_id="browser")
    cells = []
    for table in ("posts", "comments"):
        for case in ("visible", "hidden by a moderator", "of a blocked owner's follower",
                     "set hidden_at", "other's like", "own row"):
            for privacy in ("public", "followers", "private"):
                for token in ("", "forged aal1", "gotrue aal2"):
                    for actor in ACTORS:
                        wrong = (actor, case, token) == ("stranger", "visible", "")
                        cells.append(CellResult(
                            Cell(table, Op.SELECT, actor, privacy, case, token),
                            privacy == "public", (privacy == "public") != wrong, "1 row"))
    report.cells = cells
    report.lints = [
        LintFinding("rls_disabled_in_public", Severity.ERROR, "public.open_table",
                    "row level security is off"),
        LintFinding("multiple_permissive_policies", Severity.WARN, "storage.objects",
                    "several permissive policies", declared="one policy per bucket, by design"),
    ]
    return report


CASES = [
    CaseResult("suites/security/test_access_matrix.py::test_matrix", "failed", 3.2, RAW_REPR),
    CaseResult("suites/security/test_schema_lints.py::test_no_failing_findings", "failed", 0.3,
               "E   AssertionError: 1 failing lint finding"),
    CaseResult("suites/security/test_scenarios.py::test_scenario[feed]", "passed", 0.8),
    CaseResult("suites/auth/test_mfa.py::test_totp", "skipped", 0.0, "no 'auth' service"),
]


@pytest.fixture(scope="module")
def failing_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    page, _ = write_run(root / "runs", _failing_report(), CASES, None, None, [], [])
    return page


@pytest.fixture(scope="module")
def measured(failing_page: Path) -> dict:
    return browser.measure_page(failing_page, WIDTH)


def test_the_failing_run_page_shows_pytests_failure_count(measured: dict) -> None:
    assert measured["failed_tests"] == 2
    assert measured["failure_header"].startswith("2 failing tests;"), measured


def test_declared_findings_are_marked_declared_with_their_reason(measured: dict) -> None:
    assert measured["failing_lints"] == ["FAILING"]
    assert measured["declared_lints"] == ["declared: one policy per bucket, by design"]


def test_every_test_is_listed_with_a_filter(measured: dict, failing_page: Path) -> None:
    assert measured["every_test_rows"] == len(CASES)
    assert measured["filters"] == 4  # failed, passed, skipped and the text box
    text = failing_page.read_text()
    assert "CellResult(" not in text and "frozenset(" not in text and "UUID(" not in text
    assert "assert not" not in text and "AssertionError" not in text
    assert "expected deny, got allow" in text and "at suites/security/test_access_matrix.py:25" \
        in text


def test_the_matrix_grids_fit_1400_px_with_head_and_token_in_view(measured: dict) -> None:
    assert measured["window"] >= WIDTH - 20, measured["window"]
    assert measured["page_scroll"] <= measured["window"], "the page scrolls sideways"
    assert len(measured["grids"]) == 2
    for grid in measured["grids"]:
        assert grid["heads"] == 4 + len(ACTORS)
        assert grid["cut"] == 0 and grid["right"] <= measured["window"], grid
        assert grid["scroll"] <= grid["client"] + 1, grid
        assert "forged aal1" in grid["claims"] and "gotrue aal2" in grid["claims"]
    sticky = measured["sticky"]
    assert sticky["position"] == "sticky" and sticky["tableTop"] < 0 <= sticky["top"] < 5, sticky


def test_the_probe_sees_a_grid_that_is_too_wide(failing_page: Path) -> None:
    """Planted defect: the grid laid out as before (auto width, no fixed layout)."""
    planted = failing_page.with_name("planted.html")
    planted.write_text(failing_page.read_text().replace(
        "table.grid{table-layout:fixed;width:100%;max-width:100%}",
        "table.grid{table-layout:auto;width:auto}").replace(
        "table.grid td,table.grid th{padding:.15rem .2rem;",
        "table.grid td,table.grid th{white-space:nowrap;padding:.15rem 1rem;"))
    found = browser.measure_page(planted, WIDTH)
    assert found["page_scroll"] > found["window"] or any(g["cut"] for g in found["grids"])


def test_the_screenshot_is_1400_px_wide(failing_page: Path, tmp_path: Path) -> None:
    width, height = browser.screenshot(failing_page, tmp_path / "page.png", WIDTH)
    assert (width, height) == (WIDTH, 1000)
    assert (tmp_path / "page.png").stat().st_size > 20_000  # a drawn page, not a blank one
