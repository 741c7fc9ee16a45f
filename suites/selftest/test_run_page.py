"""The run page and its folder, from a made-up run: sections, plots, failures first, JUnit, the
index of runs, history across runs, and no secret anywhere. Plus the baseline gate inside
pytest, run on the real performance suite against a baseline made 3x faster than the machine
(it must fail and say why)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from soberharness.checker.regression import judge
from soberharness.records.results import Cell, CellResult, LintFinding, Op, Severity
from soberharness.report.baseline import BASELINES, REPO, Comparison, compare_files
from soberharness.report.bench_gate import AB_KIND, GateResult
from soberharness.report.run_folder import CaseResult, write_run
from soberharness.report.run_report import RunReport

SECRET = "s3cr3t-service-key-that-must-never-show"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl"


def _bench(path: Path, medians: dict[str, float], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    benchmarks: list[dict[str, Any]] = []
    for name, median in medians.items():
        rounds = list(median * np.exp(rng.normal(0, 0.08, 30)))
        refs = list(2e-3 * np.exp(rng.normal(0, 0.05, 30)))
        benchmarks.append({
            "name": name, "fullname": f"suites/performance/test_app_queries.py::{name}",
            "extra_info": {"scale": "users=10 posts=10 seed=1", "reference_rounds": refs,
                           "http": f"GET /rest/v1/posts apikey={SECRET}"},
            "stats": {"data": rounds, "iterations": 1, "median": float(np.median(rounds))}})
    path.write_text(json.dumps({"benchmarks": benchmarks}))
    return path


def _report(run_id: str) -> RunReport:
    report = RunReport(target="made-up", target_kind="remote", run_id=run_id,
                       secrets=[SECRET], started=time.time() - 5)
    ok = Cell("posts", Op.SELECT, "follower", "followers", "visible")
    bad = Cell("posts", Op.SELECT, "stranger", "private", "visible")
    report.cells = [CellResult(ok, True, True, "1 row"),
                    CellResult(bad, False, True, f"1 row, token {JWT}")]
    report.matrix_seconds = 0.5
    report.lints = [LintFinding("rls_disabled", Severity.ERROR, "public.secrets_table",
                                "row level security is off")]
    return report


CASES = [
    CaseResult("suites/security/test_access_matrix.py::test_matrix", "passed", 1.5),
    CaseResult("suites/auth/test_signup.py::test_signup", "passed", 0.4),
    CaseResult("suites/auth/test_mfa.py::test_totp", "skipped", 0.0,
             "target 'made-up' (remote) offers no 'auth' service"),
    CaseResult("suites/performance/test_app_queries.py::test_query[home_feed]", "passed", 2.0),
    CaseResult("suites/security/test_schema_lints.py::test_no_errors", "failed", 0.2,
             f"E   AssertionError: lint error, password={SECRET}"),
]


def _made_up_run(tmp_path: Path, run_id: str, feed_ms: float) -> list[Path]:
    base = _bench(tmp_path / "base.json", {"test_query[home_feed]": 40e-3,
                                           "test_query[like_count]": 0.2}, 1)
    current = _bench(tmp_path / f"{run_id}.json", {"test_query[home_feed]": feed_ms,
                                                   "test_query[like_count]": 0.2}, 2)
    gate = GateResult("2cpu", base, compare_files(base, current))
    chaos = [{"experiment": "SIGKILL mid-write", "status": "completed", "config": "clean",
              "ledger_ok": False, "outcomes": {"acknowledged": 9, "failed": 1, "unknown": 0},
              "violations": {"lost_acknowledged": 2},
              "faults": [{"fault": "postgres-sigkill", "heal_seconds": 0.3,
                          "recovery_seconds": 0.02, "during": None}]},
             {"experiment": "async commit negative control", "status": "deviated",
              "config": "lossy", "negative_control": True, "ledger_ok": False,
              "outcomes": {"acknowledged": 9, "failed": 0, "unknown": 0},
              "violations": {"lost_acknowledged": 3}, "faults": []}]
    load = [{"format": "soberharness.load/1", "run": "rest", "passed": True, "violations": [],
             "total": {"requests": 100, "error_rate": 0.0,
                       "percentiles_ms": {"p50": 5, "p95": 9, "p99": 12}}, "this_run": True}]
    runs = tmp_path / "reports" / "runs"
    paths = write_run(runs, _report(run_id), CASES, json.loads(current.read_text()), gate,
                      chaos, load)
    return paths


def test_run_page_has_every_section_plots_and_failures_first(tmp_path: Path) -> None:
    page, index = _made_up_run(tmp_path, "run-a", 40e-3)
    text = page.read_text()
    order = [text.index(f"id='{s}'") for s in
             ("failures", "benchmarks", "matrix", "auth", "chaos", "load", "tests")]
    assert order == sorted(order), "sections out of order (failures must come first)"
    failures = text[order[0]:order[1]]
    for expected in ("test_schema_lints.py::test_no_errors", "access mismatch",
                     "lint error", "SIGKILL mid-write"):
        assert expected in failures, f"{expected!r} not listed under Failures"
    assert "benchmark regression" not in failures  # unchanged medians: no regression
    assert "negative control" not in failures  # a lossy config losing writes is expected
    assert "lost, expected (negative control)" in text
    assert len(re.findall(r"<img class=\"plot\"[^>]*src=\"data:image/png;base64,", text)) == 3
    assert "offers no &#x27;auth&#x27; service" in text[order[3]:order[4]]  # auth skip reason
    assert "FAILED" in text and "verdict failed" in text
    # Summary JSON and JUnit beside the page.
    folder = page.parent
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["verdict"] == "failed" and summary["tests"]["counts"]["failed"] == 1
    junit = ET.parse(folder / "junit.xml").getroot()
    security = junit.find("testsuite[@name='security']")
    assert security is not None and security.get("failures") == "1"
    auth = junit.find("testsuite[@name='auth']")
    assert auth is not None and auth.get("skipped") == "1"
    assert "runs/run-a/index.html" in index.read_text()


def test_a_second_run_is_newest_in_the_index_has_history_and_its_regression_first(
        tmp_path: Path) -> None:
    _made_up_run(tmp_path, "run-a", 40e-3)
    time.sleep(0.01)
    page, index = _made_up_run(tmp_path, "run-b", 80e-3)
    listing = index.read_text()
    assert listing.index("runs/run-b/") < listing.index("runs/run-a/")
    text = page.read_text()
    failures = text[text.index("id='failures'"):text.index("id='benchmarks'")]
    assert "benchmark regression" in failures and "test_query[home_feed]" in failures
    assert "History across runs" in text
    summary = json.loads((page.parent / "summary.json").read_text())
    assert summary["benchmarks"]["gate"]["regressions"] == ["test_query[home_feed]"]


def test_a_same_run_regression_not_found_again_is_listed_with_its_first_measurement(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = list(2e-4 * np.exp(rng.normal(0, 0.05, 30)))
    b = list(2e-4 * np.exp(rng.normal(0, 0.05, 30)))
    first = judge("trending_top", a, [x * 1.3 for x in b])
    again = dataclasses.replace(judge("trending_top", a, b), unconfirmed=first.line())
    steady = judge("home_feed", a, b)
    gate = GateResult("this machine", "stack/ at HEAD (A/A)", Comparison([again, steady], []),
                      kind=AB_KIND, baseline_rounds={"trending_top": a, "home_feed": a},
                      current_rounds={"trending_top": b, "home_feed": b})
    page, _ = write_run(tmp_path / "runs", _report("run-c"), CASES, None, gate, [], [])
    text = page.read_text()
    assert first.regression and not again.regression
    listed = text[text.index("Measured again"):]
    listed = listed[:listed.index("</ul>")]
    assert "<b>trending_top</b>: SLOWER  trending_top: median 0.1" in listed, listed
    assert "home_feed" not in listed, listed
    assert "found again when measured a second time" in text
    summary = json.loads((page.parent / "summary.json").read_text())
    verdicts = {v["name"]: v for v in summary["benchmarks"]["gate"]["verdicts"]}
    assert verdicts["trending_top"]["unconfirmed"] == first.line()
    assert verdicts["home_feed"]["unconfirmed"] == ""


def test_no_secret_in_any_file_of_the_run(tmp_path: Path) -> None:
    _made_up_run(tmp_path, "run-a", 40e-3)
    files = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"index.html", "summary.json", "junit.xml",
                                       "benchmarks.json"}
    for path in files:
        content = path.read_text()
        assert SECRET not in content, path
        assert JWT not in content, path


def test_gate_in_the_test_command_fails_on_a_slower_query(tmp_path: Path) -> None:
    """The real suite against a doctored baseline file (trending_top 3x faster than measured,
    its machine references unchanged), asked for with --baseline-file: the gate test fails,
    naming the query."""
    committed = json.loads((BASELINES / "2cpu" / "performance.json").read_text())
    wanted = "test_query[trending_top]"
    entries = [b for b in committed["benchmarks"] if b["name"] == wanted]
    assert entries, f"the committed 2cpu baseline has no {wanted}"
    for bench in entries:
        bench["stats"]["data"] = [v / 3 for v in bench["stats"]["data"]]
    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps(committed | {"benchmarks": entries}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOBERHARNESS_PERF_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/performance", "-q", "-p", "no:xdist",
         "-k", "test_query and trending_top or test_baseline_gate", "--baseline-file",
         str(doctored), "--report-dir", str(tmp_path / "latest")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert "FAILED suites/performance/test_baseline_gate.py" in out, out[-3000:]
    assert f"slower than {doctored}" in out and wanted in out, out[-3000:]
    page = next((tmp_path / "runs").glob("*/index.html")).read_text()
    assert "benchmark regression" in page
