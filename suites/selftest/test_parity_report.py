"""The parity report (python -m soberharness.parity) over real run folders.

The security suite runs twice on the local target: once with the stack's migrations (shared
with test_remote_parity, which shows two runs of the same stack give exit 0) and once with a
copy in which one policy is changed. The report must name exactly what that change does and
exit 1. Derived folders (copies of the stock run with one thing changed) show the other
verdicts: another stack version or other suites (exit 2), another response shape (exit 1),
a slow target (a performance difference, exit 0).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from soberharness.parity.__main__ import main as parity_main
from soberharness.records.results import Cell, Op
from soberharness.targets.migrations import STACK_MIGRATIONS

if TYPE_CHECKING:
    from conftest import PendingRun, SecurityRun

POLICY = """create policy blocks_select_own on public.blocks
  for select to authenticated
  using (blocker_id = (select auth.uid()));"""
# Planted: the blocked user also sees the block (decision: only the blocker does).
LEAKY_POLICY = """create policy blocks_select_own on public.blocks
  for select to authenticated
  using (blocker_id = (select auth.uid()) or blocked_id = (select auth.uid()));"""


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                start_security_suite: Callable[..., PendingRun]) -> SecurityRun:
    base = tmp_path_factory.mktemp("planted-security")
    migrations = base / "migrations"
    shutil.copytree(STACK_MIGRATIONS, migrations)
    policies = migrations / "0004_policies" / "up.sql"
    text = policies.read_text()
    assert text.count(POLICY) == 1
    policies.write_text(text.replace(POLICY, LEAKY_POLICY))
    pending = start_security_suite(base / "latest", "--target", "local", "--migrations",
                                   str(migrations), run_id="planted")
    try:
        request.getfixturevalue("stock_security_run")  # meanwhile (each has its own server)
        run = pending.wait()
    finally:
        pending.stop()
    assert run.returncode == 1, run.output  # the suite itself fails on the planted policy
    return run


Outcome = tuple[int, str, dict[str, Any]]


def _parity(capsys: pytest.CaptureFixture[str], out: Path, *folders: Path) -> Outcome:
    code = parity_main([*map(str, folders), "--out", str(out)])
    printed = capsys.readouterr()
    report = json.loads((out / "parity.json").read_text()) if (out / "parity.json").exists() \
        else {}
    return code, printed.out + printed.err, report


@pytest.mark.needs("postgres")
def test_parity_names_exactly_the_planted_policy(
    tmp_path: Path, stock_security_run: SecurityRun, planted_run: SecurityRun,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, printed, report = _parity(capsys, tmp_path / "parity", stock_security_run.folder,
                                    planted_run.folder)
    assert code == 1, printed
    behaviour = [c for c in report["checks"] if c["verdict"] == "behaviour"]
    cells = {c["name"]: c["outcomes"] for c in behaviour if c["kind"] == "matrix cell"}
    # What the access model says is wrong in the planted run (the security suite's own finding,
    # independent of the parity code) is exactly what differs between the two targets.
    mismatched = {Cell(m["table"], Op(m["operation"]), m["actor"], m["privacy"], m["case"],
                       m.get("claims", "")).label()
                  for m in planted_run.summary["matrix"]["mismatches"]}
    assert mismatched and set(cells) == mismatched
    # The blocked user's reads of the block, as themselves and as a moderator the owner blocked.
    assert {label.split(" select blocks [")[0] for label in cells} == {
        "blocked", "moderator+blocked"}, cells
    assert all(o == {"local@stock": "deny", "local@planted": "allow"} for o in cells.values())
    planted_cases = json.loads((planted_run.folder / "summary.json").read_text())["tests"]
    failed = {c["nodeid"] for c in planted_cases["cases"] if c["outcome"] == "failed"}
    tests = {c["name"]: c["outcomes"] for c in behaviour if c["kind"].startswith("test")}
    assert set(tests) == failed
    assert "suites/security/test_access_matrix.py::test_cells_match_the_model[blocks-select]" \
        in tests
    assert len(behaviour) == len(cells) + len(tests)
    # The environment explains it: only the migrations' text differs.
    assert [e["key"] for e in report["environment"] if e["differs"]] == ["migrations.digest"]
    assert "DIFF matrix cell: blocked select blocks [" in printed
    page = (tmp_path / "parity" / "index.html").read_text()
    assert page.index("Behaviour differences (") < page.index("blocked select blocks")


def _derived(source: Path, dest: Path, run_id: str,
             change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    shutil.copytree(source, dest)
    doc = json.loads((dest / "summary.json").read_text())
    doc["run_id"] = run_id
    if change is not None:
        change(doc)
    (dest / "summary.json").write_text(json.dumps(doc))
    return dest


@pytest.mark.needs("postgres")
def test_another_stack_version_is_not_comparable(
    tmp_path: Path, stock_security_run: SecurityRun, capsys: pytest.CaptureFixture[str]
) -> None:
    def drop_last_migration(doc: dict[str, Any]) -> None:
        doc["environment"]["migrations"]["names"].pop()

    older = _derived(stock_security_run.folder, tmp_path / "older", "older", drop_last_migration)
    code, printed, report = _parity(capsys, tmp_path / "parity", stock_security_run.folder, older)
    assert code == 5, printed
    assert len(report["not_comparable"]) == 1
    assert report["not_comparable"][0].startswith("stack versions differ: local@older")


@pytest.mark.needs("postgres")
def test_other_suites_are_not_comparable(
    tmp_path: Path, stock_security_run: SecurityRun, capsys: pytest.CaptureFixture[str]
) -> None:
    def only_auth(doc: dict[str, Any]) -> None:
        for case in doc["tests"]["cases"]:
            case["suite"] = "auth"

    other = _derived(stock_security_run.folder, tmp_path / "other", "other", only_auth)
    code, printed, _ = _parity(capsys, tmp_path / "parity", stock_security_run.folder, other)
    assert code == 5
    assert "NOT COMPARABLE local@other ran suites ['auth'], local@stock ran ['security']" \
        in printed


@pytest.mark.needs("postgres")
def test_another_response_shape_is_a_behaviour_difference(
    tmp_path: Path, stock_security_run: SecurityRun, capsys: pytest.CaptureFixture[str]
) -> None:
    def routes(expires_in: str) -> Callable[[dict[str, Any]], None]:
        def change(doc: dict[str, Any]) -> None:
            doc["routes"] = {"POST /auth/v1/token": {"statuses": [200, 400], "shapes": {
                "200": {"access_token": "string", "expires_in": expires_in},
                "400": {"error": "string"}}}}
        return change

    a = _derived(stock_security_run.folder, tmp_path / "a", "a", routes("number"))
    b = _derived(stock_security_run.folder, tmp_path / "b", "b", routes("string"))
    code, printed, report = _parity(capsys, tmp_path / "parity", a, b)
    assert code == 1, printed
    differing = [(c["kind"], c["name"]) for c in report["checks"] if c["verdict"] == "behaviour"]
    assert differing == [("route shape", "POST /auth/v1/token -> 200")]


@pytest.mark.needs("postgres")
def test_a_slow_target_is_a_performance_difference_not_a_behaviour_difference(
    tmp_path: Path, stock_security_run: SecurityRun, capsys: pytest.CaptureFixture[str]
) -> None:
    def steady(doc: dict[str, Any]) -> None:
        for band in doc["matrix"]["latency_ms"].values():
            band.update(p50=2.0, p95=4.0)

    def slow_posts(doc: dict[str, Any]) -> None:
        steady(doc)
        doc["matrix"]["latency_ms"]["posts select"].update(p50=20.0, p95=40.0)

    runs = [_derived(stock_security_run.folder, tmp_path / name, name, change)
            for name, change in (("a", steady), ("b", steady), ("slow", slow_posts))]
    (tmp_path / "slow" / "benchmarks.json").unlink(missing_ok=True)
    code, printed, report = _parity(capsys, tmp_path / "parity", *runs)
    assert code == 0, printed
    outliers = [(lat["name"], lat["outliers"]) for lat in report["latency"] if lat["outliers"]]
    assert outliers == [("posts select", {"local@slow": "slower 10.00x"})]


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code = parity_main([str(tmp_path / "empty"), str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 4
    assert err.strip().splitlines() == [
        f"soberharness.parity: {tmp_path / 'empty'}: no summary.json (not a run folder)"]


@pytest.mark.needs("postgres")
def test_the_run_index_links_the_parity_report(
    tmp_path: Path, stock_security_run: SecurityRun, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    a = _derived(stock_security_run.folder, reports / "runs" / "a", "a")
    b = _derived(stock_security_run.folder, reports / "runs" / "b", "b")
    code, _, _ = _parity(capsys, reports / "parity" / "nightly-1", a, b)
    assert code == 0
    index = (reports / "index.html").read_text()
    assert "href='parity/nightly-1/index.html'" in index and "identical behaviour" in index


@pytest.mark.needs("postgres")
def test_a_slow_route_of_a_load_run_is_a_performance_difference(
    tmp_path: Path, stock_security_run: SecurityRun, capsys: pytest.CaptureFixture[str]
) -> None:
    def load(p95: float) -> Callable[[dict[str, Any]], None]:
        def change(doc: dict[str, Any]) -> None:
            for band in doc["matrix"]["latency_ms"].values():
                band.update(p50=2.0, p95=4.0)
            doc["load"] = [{"run": "rest", "this_run": True, "endpoints": [
                {"name": "/rest/v1/posts", "method": "GET", "requests": 500,
                 "percentiles_ms": {"p50": 20.0, "p95": p95}},
                {"name": "/rest/v1/profiles", "method": "GET", "requests": 500,
                 "percentiles_ms": {"p50": 10.0, "p95": 30.0}}]}]
        return change

    runs = [_derived(stock_security_run.folder, tmp_path / name, name, load(p95))
            for name, p95 in (("a", 60.0), ("b", 62.0), ("c", 400.0))]
    code, printed, report = _parity(capsys, tmp_path / "parity", *runs)
    assert code == 0, printed
    outliers = [(lat["source"], lat["name"], lat["outliers"]) for lat in report["latency"]
                if lat["outliers"]]
    assert outliers == [("route", "rest: GET /rest/v1/posts", {"local@c": "slower 6.45x"})]
    assert "PERF route rest: GET /rest/v1/posts: local@c slower 6.45x" in printed
