"""One folder per run under reports/runs/<run id>/ and an index of runs, newest first.

Per run: index.html (the page a person reads: run_page.py), summary.json (what the page
shows, as data; later runs read its benchmark medians for the history plot), junit.xml (for
CI), benchmarks.json (pytest-benchmark JSON of this run's suites/performance rounds, when
there were any). Everything passes through records.redact with the target's secrets.
The runs folder and the index go under the report dir, or beside it when it is a `latest`
folder (reports/latest -> reports/runs, reports/index.html): run_facts.reports_root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import os
import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soberharness.records.redact import redact
from soberharness.report import failure_text
from soberharness.report.baseline import load_samples, samples_from_document
from soberharness.report.dr_section import dr_of
from soberharness.report.run_facts import chaos_failed, folder_name
from soberharness.report.run_facts import runs_root as runs_folder_of
from soberharness.report.run_report import RunReport
from soberharness.report.verdict import about_target, checked_the_target
from soberharness.targets.migrations import REPO

if TYPE_CHECKING:
    import pytest

    from soberharness.report.bench_gate import GateResult
    from soberharness.targets.base import Target

CHAOS_REPORTS = Path(os.environ.get("SOBERHARNESS_CHAOS_REPORTS", str(REPO / "reports" / "chaos")))
LOAD_REPORTS = REPO / "reports" / "load"
HISTORY_RUNS = 20
FORMAT = "soberharness.run/1"


@dataclasses.dataclass
class CaseResult:
    nodeid: str
    outcome: str  # passed, failed, error, skipped, xfailed, xpassed
    duration: float = 0.0
    message: str = ""  # failure text (tail) or skip reason
    about_target: bool = True  # False: marked target_independent (report.verdict)

    @property
    def suite(self) -> str:
        parts = self.nodeid.split("/")
        return parts[1] if len(parts) > 2 and parts[0] == "suites" else parts[0].split("::")[0]

    @property
    def bad(self) -> bool:
        return self.outcome in ("failed", "error", "xpassed")


def cases_from_reports(reports: Iterable[Any]) -> list[CaseResult]:
    """Fold pytest's per-phase TestReports into one case per test, in the order they ran.

    A test passed only when its call phase passed: one that was set up but never reached a
    verdict (the run was interrupted or crashed inside it) is not counted at all."""
    cases: dict[str, CaseResult] = {}
    for rep in reports:
        when = getattr(rep, "when", None)
        if when is None:
            continue
        case = cases.setdefault(rep.nodeid, CaseResult(rep.nodeid, "",
                                                       about_target=about_target(rep)))
        case.duration += float(getattr(rep, "duration", 0.0) or 0.0)
        if hasattr(rep, "wasxfail"):
            case.outcome = "xpassed" if rep.passed else "xfailed"
            case.message = str(rep.wasxfail)
        elif rep.failed:
            case.outcome = "failed" if when == "call" else "error"
            case.message = _tail(getattr(rep, "longreprtext", "") or str(rep.longrepr))
        elif rep.skipped and case.outcome in ("", "passed"):
            case.outcome = "skipped"
            longrepr = rep.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
            case.message = str(reason).removeprefix("Skipped: ")
        elif rep.passed and when == "call" and case.outcome == "":
            case.outcome = "passed"
    return [case for case in cases.values() if case.outcome]


# pytest's exit statuses (pytest.ExitCode), without importing pytest into the report.
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL, EXIT_NO_TESTS = 0, 1, 2, 3, 5


def run_verdict(cases: list[CaseResult], failed: bool, exitstatus: int = EXIT_OK) -> str:
    """passed, failed, skipped (every test skipped: nothing was checked), interrupted
    (Ctrl-C, SIGTERM) or error (the harness or pytest stopped the run: a crash, an
    unreachable target, bad input)."""
    if exitstatus == EXIT_INTERRUPTED:
        return "interrupted"
    if exitstatus not in (EXIT_OK, EXIT_FAILED, EXIT_NO_TESTS):
        return "error"
    if failed or exitstatus == EXIT_FAILED:
        return "failed"
    if exitstatus == EXIT_NO_TESTS or not checked_the_target(cases):
        return "skipped"
    return "passed"


def _tail(text: str, lines: int = 25) -> str:
    return failure_text.for_people(text, lines)


def gate_json(gate: GateResult | None) -> dict[str, Any] | None:
    if gate is None:
        return None
    baseline = gate.baseline
    if isinstance(baseline, Path) and baseline.is_relative_to(REPO):
        baseline = baseline.relative_to(REPO)
    return {"machine_class": gate.machine_class, "kind": gate.kind,
            "baseline": str(baseline)} | gate.comparison.to_json()


def per_call_ms(document: Mapping[str, Any] | None) -> dict[str, list[float]]:
    """Benchmark name -> every round's per-call time in ms (as the gate judges them)."""
    if not document or not document.get("benchmarks"):
        return {}
    samples = samples_from_document(dict(document), "benchmarks")
    return {name: [v * 1e3 for v in s.rounds] for name, s in samples.items()}


def chaos_from_this_run(folder: Path, since: float) -> list[dict[str, Any]]:
    """Chaos experiment summaries written since `since` (this run's), oldest first."""
    found = []
    for path in sorted(folder.glob("*/summary.json"), key=lambda p: p.stat().st_mtime):
        if path.stat().st_mtime < since:
            continue
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        ledger = doc.get("ledger") or {}
        found.append({
            "experiment": doc.get("experiment", path.parent.name),
            "status": doc.get("status"),
            "config": (doc.get("stack") or {}).get("config"),
            "ledger_ok": ledger.get("ok"),
            # Only the durable ('clean') configuration must lose nothing; another one (e.g.
            # 'lossy', asynchronous commit) is a negative control the ledger must catch losing.
            "negative_control": (doc.get("stack") or {}).get("config") not in (None, "clean"),
            "outcomes": ledger.get("outcomes", {}),
            "violations": ledger.get("violation_counts", {}),
            "faults": [{k: f.get(k) for k in ("fault", "heal_seconds", "recovery_seconds",
                                               "during")} for f in doc.get("faults") or []],
            "dr": dr_of(doc),  # a disaster-recovery drill's RPO, RTO and figures, or None
        })
    return found


def load_results(folder: Path, since: float) -> list[dict[str, Any]]:
    """Load-run summaries (workload.load_thresholds.read_summaries), each marked with whether
    it was written during this run."""
    from soberharness.checker.load_thresholds import read_summaries

    if not folder.is_dir():
        return []
    fresh = any(p.stat().st_mtime >= since for p in folder.glob("*.json"))
    return [doc | {"this_run": fresh} for doc in read_summaries(folder)]


def run_document(report: RunReport, cases: list[CaseResult], bench: Mapping[str, Any] | None,
                 gate: GateResult | None, chaos: list[dict[str, Any]],
                 load: list[dict[str, Any]], exitstatus: int = EXIT_OK,
                 stopped_by: str = "") -> dict[str, Any]:
    """The run as data: what summary.json holds and the page shows."""
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    rounds = per_call_ms(bench)
    medians = {name: _median(values) for name, values in rounds.items()}
    gate_doc = gate_json(gate)
    summary = report.summary()
    failed = (any(c.bad for c in cases) or bool(report.mismatches) or bool(report.lint_errors)
              or bool(gate_doc and gate_doc["regressions"])
              or any(chaos_failed(c) for c in chaos)
              or any(doc.get("passed") is False and doc.get("this_run") for doc in load))
    return {
        "format": FORMAT,
        "run_id": report.run_id,
        "verdict": run_verdict(cases, failed, exitstatus),
        "exit_status": int(exitstatus),
        "stopped_by": stopped_by,
        "started": summary["started"],
        "started_epoch": report.started,
        "duration_s": summary["duration_s"],
        "target": summary["target"],
        "migrations": summary["migrations"],
        "tests": {"counts": counts, "cases": [dataclasses.asdict(c) | {"suite": c.suite}
                                              for c in cases]},
        "matrix": summary["matrix"],
        "environment": summary["environment"],
        "routes": summary["routes"],
        "lints": summary["lints"],
        "notes": summary["notes"],
        "benchmarks": {"medians_ms": medians, "rounds": {n: len(v) for n, v in rounds.items()},
                       "gate": gate_doc},
        "chaos": chaos,
        "load": load,
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return 0.0
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def junit_xml(run_id: str, cases: list[CaseResult], verdict: str = "",
              stopped_by: str = "") -> str:
    """JUnit XML of the run's tests (one testsuite per folder under suites/). The run's verdict
    is a property of <testsuites>; a run that was not passed although no test failed (every
    test skipped, interrupted, stopped with an error) gets a failing testcase `run` saying so,
    so that CI does not show it green."""
    root = ET.Element("testsuites", name=f"soberharness run {run_id}")
    if verdict:
        properties = ET.SubElement(root, "properties")
        ET.SubElement(properties, "property", name="verdict", value=verdict)
    if verdict in ("skipped", "interrupted", "error") and not any(c.bad for c in cases):
        suite = ET.SubElement(root, "testsuite", name="soberharness")
        why = {"skipped": "every selected test was skipped: nothing was checked",
               "interrupted": "the run was interrupted before it finished",
               "error": "the run stopped with an error"}[verdict]
        element = ET.SubElement(suite, "testcase", classname="soberharness", name="run",
                                time="0.000")
        ET.SubElement(element, "failure", message=f"{verdict}: {why}").text = stopped_by or why
    suites: dict[str, ET.Element] = {}
    for case in cases:
        suite = suites.get(case.suite)
        if suite is None:
            suite = suites[case.suite] = ET.SubElement(root, "testsuite", name=case.suite)
        path, _, name = case.nodeid.partition("::")
        element = ET.SubElement(suite, "testcase", classname=path.removesuffix(".py")
                                .replace("/", "."), name=name or path, time=f"{case.duration:.3f}")
        if case.outcome in ("failed", "xpassed"):
            ET.SubElement(element, "failure", message=case.message.splitlines()[0][:200]
                          if case.message else case.outcome).text = case.message
        elif case.outcome == "error":
            ET.SubElement(element, "error", message=case.message[:200]).text = case.message
        elif case.outcome in ("skipped", "xfailed"):
            ET.SubElement(element, "skipped", message=case.message[:500])
    for suite in suites.values():
        kids = list(suite)
        suite.set("tests", str(len(kids)))
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            suite.set(attr, str(sum(1 for k in kids if k.find(tag) is not None)))
        suite.set("time", f"{sum(float(k.get('time', 0)) for k in kids):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def history(runs_root: Path, current: dict[str, Any] | None = None,
            limit: int = HISTORY_RUNS) -> list[tuple[str, dict[str, float]]]:
    """(label, benchmark medians in ms) of earlier runs with benchmarks, oldest first, then
    `current`."""
    docs = [d for d in _run_summaries(runs_root)
            if d.get("benchmarks", {}).get("medians_ms")
            and (current is None or d.get("run_id") != current.get("run_id"))]
    docs.sort(key=lambda d: d.get("started_epoch", 0))
    if current is not None and current["benchmarks"]["medians_ms"]:
        docs.append(current)
    return [(_label(d), d["benchmarks"]["medians_ms"]) for d in docs[-limit:]]


def _label(doc: Mapping[str, Any]) -> str:
    started = dt.datetime.fromtimestamp(doc.get("started_epoch", 0), dt.UTC)
    return f"{started:%m-%d %H:%M} {doc.get('run_id', '')}"


def _run_summaries(runs_root: Path) -> list[dict[str, Any]]:
    docs = []
    for path in runs_root.glob("*/summary.json"):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
            docs.append(doc)
    return docs


_TAG = re.compile(r"(<[^>]*>)")
_ATTRIBUTE = re.compile(r"""(=)(["'])(.*?)\2""", re.S)


def secret_forms(secrets_: Iterable[str]) -> list[str]:
    """Each secret as it is and as HTML/XML escaping would write it."""
    forms = set()
    for secret in secrets_:
        if secret:
            forms |= {secret, html.escape(secret), html.escape(secret, quote=False)}
    return sorted(forms)


def redact_markup(text: str, secrets_: Iterable[str]) -> str:
    """records.redact over the text between tags and inside attribute values only, so that a
    masked `password=...` cannot swallow the markup after it."""
    forms = secret_forms(secrets_)

    def attributes(match: re.Match[str]) -> str:
        value = match.group(3)
        if value.startswith("data:"):
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{redact(value, forms)}{match.group(2)}"

    parts = _TAG.split(text)
    return "".join(_ATTRIBUTE.sub(attributes, part) if part.startswith("<")
                   else redact(part, forms) for part in parts)


def write_index(runs_root: Path) -> Path:
    """reports/index.html: every run under runs_root, newest first, with its verdict."""
    from soberharness.report.run_page import render_index

    docs = sorted(_run_summaries(runs_root), key=lambda d: d.get("started_epoch", 0),
                  reverse=True)
    index = runs_root.parent / "index.html"
    index.write_text(render_index(docs, runs_root.name, parity_reports(runs_root.parent)))
    return index


def parity_reports(reports_root: Path) -> list[dict[str, Any]]:
    """The parity reports (python -m soberharness.parity) under reports/parity/, newest first,
    each with its folder relative to reports_root."""
    found = []
    for path in sorted(reports_root.glob("parity/*/parity.json"), reverse=True):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            found.append({"link": f"parity/{path.parent.name}/index.html",
                          "name": path.parent.name, "verdict": doc.get("verdict"),
                          "targets": list(doc.get("targets") or {})})
    return found


def write_run(runs_root: Path, report: RunReport, cases: list[CaseResult],
              bench: Mapping[str, Any] | None, gate: GateResult | None,
              chaos: list[dict[str, Any]], load: list[dict[str, Any]],
              exitstatus: int = EXIT_OK, stopped_by: str = "") -> list[Path]:
    """Write the run's folder and refresh the index; return the page and the index paths."""
    from soberharness.report.run_page import render_page

    doc = run_document(report, cases, bench, gate, chaos, load, exitstatus, stopped_by)
    baseline_ms: dict[str, list[float]] = {}
    current_ms = per_call_ms(bench)
    if gate is not None and gate.baseline_rounds:  # the same-run gate: both sides' rounds
        baseline_ms = {name: [v * 1e3 for v in r] for name, r in gate.baseline_rounds.items()}
        current_ms = {name: [v * 1e3 for v in r] for name, r in gate.current_rounds.items()}
    elif gate is not None and isinstance(gate.baseline, Path) and gate.baseline.exists():
        baseline_ms = {name: [v * 1e3 for v in s.rounds]
                       for name, s in load_samples(gate.baseline).items()}
    page = render_page(doc, report, current_ms, baseline_ms, history(runs_root, doc))
    folder = runs_root / folder_name(report.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    outputs = {
        "index.html": page,
        "summary.json": json.dumps(doc, indent=2, default=str),
        "junit.xml": junit_xml(report.run_id, cases, doc["verdict"], doc["stopped_by"]),
    }
    if bench and bench.get("benchmarks"):
        outputs["benchmarks.json"] = json.dumps(bench, default=str)
    for name, text in outputs.items():
        markup = name.endswith((".html", ".xml"))
        (folder / name).write_text(redact_markup(text, report.secrets) if markup
                                   else redact(text, secret_forms(report.secrets)))
    return [folder / "index.html", write_index(runs_root)]


def session_started(config: pytest.Config) -> float:
    """When pytest's session began (the terminal reporter's clock), else now."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    start = getattr(reporter, "_session_start", None)
    return float(getattr(start, "time", time.time()))


def target_secrets(target: Target | None) -> list[str]:
    """The target's secrets to redact, or none when they cannot be read (unset variables)."""
    from soberharness.errors import HarnessError

    if target is None:
        return []
    try:
        return target.keys.secrets()
    except HarnessError:
        return []


def write_session_run(config: pytest.Config, stats: Mapping[str, list[Any]],
                      report: RunReport | None, target: Target | None,
                      exitstatus: int = EXIT_OK, stopped_by: str = "",
                      run_id: str = "") -> list[Path]:
    """The run folder for a finished pytest session (called from the plugin's terminal
    summary). Nothing when no test ran and nothing went wrong (collect-only)."""
    from soberharness.report import bench_gate

    if getattr(config, "workerinput", None) is not None:  # an xdist worker: the controller
        return []
    cases = cases_from_reports(r for reports in stats.values() for r in reports)
    if not cases and exitstatus in (EXIT_OK, EXIT_NO_TESTS) and not stopped_by:
        return []
    if report is None:  # no suite asked for the run report: the page still shows the tests
        report = RunReport(
            target=target.name if target else "-",
            target_kind=target.kind if target else "-",
            run_id=run_id or os.environ.get("SOBERHARNESS_RUN_ID") or secrets.token_hex(4),
            secrets=target_secrets(target),
            started=session_started(config),
        )
    bench = bench_gate.session_document(config)
    gates = bench_gate.session_gates(config)  # the same-run gate first, when it ran
    gate = gates[0] if gates else None
    runs = runs_folder_of(Path(config.getoption("--report-dir")))
    since = min(report.started, session_started(config))
    report = dataclasses.replace(report, started=since)  # the page times the whole session
    return write_run(runs, report, cases, bench, gate,
                     chaos_from_this_run(CHAOS_REPORTS, since),
                     load_results(LOAD_REPORTS, since), exitstatus, stopped_by)
