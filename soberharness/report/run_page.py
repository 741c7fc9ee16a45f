"""The run as one self-contained HTML page (failures first), and the index of runs.

Input is the run document (run_folder.run_document), the RunReport (for the matrix tables of
report/html.py), per-call benchmark rounds of this run and of the baseline, and the history of
earlier runs' medians. Plots are embedded PNGs (report/plots.py).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from soberharness.checker.regression import ALPHA, MIN_EFFECT
from soberharness.report import audit_section, dr_section, plots, run_index
from soberharness.report.failure_text import for_people
from soberharness.report.html import STYLE as MATRIX_STYLE
from soberharness.report.html import _tables as matrix_tables
from soberharness.report.run_facts import chaos_failed, folder_name
from soberharness.report.run_report import RunReport

STYLE = MATRIX_STYLE + """
body{max-width:1340px}
.filter{margin:.4rem 0}.filter label{margin-right:1rem}
.filter input[type=search]{width:22rem;padding:.15rem .3rem}
td.failing{background:#f7d6d6;font-weight:bold}td.declared{background:#eef3fb;max-width:26rem}
h1{margin-bottom:.2rem}
h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
td.l,th.l{text-align:left}
.verdict{display:inline-block;padding:.25rem .8rem;border-radius:4px;font-weight:bold;color:#fff}
.verdict.passed{background:#2e8b57}.verdict.failed{background:#c62828}
.verdict.skipped{background:#b8860b}.verdict.interrupted{background:#6a1b9a}
.verdict.error{background:#4e342e}
.meta{color:#555;margin:.3rem 0 1rem}
nav a{margin-right:1rem}
.failures li{margin:.4rem 0}
.failures pre,.cases pre{background:#fff3f3;border-left:3px solid #c62828;padding:.4rem;
 white-space:pre-wrap;margin:.2rem 0;font-size:.8rem;max-height:14rem;overflow:auto}
.ok-box{background:#eef8ee;border-left:4px solid #2e8b57;padding:.5rem .8rem}
.bad-box{background:#fff3f3;border-left:4px solid #c62828;padding:.5rem .8rem}
.outcome-failed,.outcome-error,.outcome-xpassed,.SLOWER{background:#f7d6d6;font-weight:bold}
.outcome-skipped,.outcome-xfailed{background:#fdf3d0}
.outcome-passed,.same{background:#eef8ee}.faster{background:#d8f5d0}
img.plot{display:block;max-width:100%;margin:.6rem 0 1.2rem;border:1px solid #eee}
details{margin:.5rem 0}
table.cases{width:100%}
td.test{overflow-wrap:anywhere;min-width:22rem}
td.test small{color:#666}
td.reason{min-width:16rem;max-width:30rem;overflow-wrap:anywhere}
td.wrap{overflow-wrap:anywhere;max-width:24rem}
summary{cursor:pointer;font-weight:bold}
"""

BAD_OUTCOMES = ("failed", "error", "xpassed")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _row(values: Sequence[Any], css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<tr{cls}>" + "".join(f"<td class='l'>{_e(v)}</td>" for v in values) + "</tr>"


def _head(*names: str) -> str:
    return "<tr>" + "".join(f"<th class='l'>{_e(n)}</th>" for n in names) + "</tr>"


def render_page(doc: Mapping[str, Any], report: RunReport,
                current_ms: Mapping[str, Sequence[float]],
                baseline_ms: Mapping[str, Sequence[float]],
                history: Sequence[tuple[str, Mapping[str, float]]]) -> str:
    counts = doc["tests"]["counts"]
    target = doc["target"]
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>SoberTube harness run {_e(doc['run_id'])}: {_e(doc['verdict'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<p><a href='../../index.html'>&larr; all runs</a></p>",
        f"<h1>Run {_e(doc['run_id'])} <span class='verdict {_e(doc['verdict'])}'>"
        f"{_e(doc['verdict'].upper())}</span></h1>",
        f"<p class='meta'>target <b>{_e(target['name'])}</b> ({_e(target['kind'])}) · started "
        f"{_e(doc['started'])} · {doc['duration_s']:.0f} s · tests: "
        + ", ".join(f"{_e(k)} {v}" for k, v in sorted(counts.items())) + "</p>",
        "<nav><a href='#failures'>Failures</a><a href='#benchmarks'>Benchmarks</a>"
        "<a href='#matrix'>Security matrix</a><a href='#auth'>Auth</a>"
        "<a href='#audit'>Audit log</a><a href='#chaos'>Chaos</a>"
        "<a href='#dr'>Disaster recovery</a>"
        "<a href='#load'>Load</a><a href='#tests'>All tests</a></nav>",
    ]
    if doc.get("stopped_by"):
        out.append(f"<p class='bad-box'><b>{_e(doc['verdict'])}:</b> {_e(doc['stopped_by'])}</p>")
    out += _failures(doc)
    out += _benchmarks(doc, current_ms, baseline_ms, history)
    out += _matrix(doc, report)
    out += _auth(doc)
    out += audit_section.section(doc["notes"])
    out += _chaos(doc)
    out += dr_section.section(doc["chaos"])
    out += _load(doc)
    out += _all_tests(doc)
    out.append("</body></html>")
    return "\n".join(out)


def _failures(doc: Mapping[str, Any]) -> list[str]:
    tests: list[str] = []  # counted: as many as pytest's failures and errors
    for case in doc["tests"]["cases"]:
        if case["outcome"] in BAD_OUTCOMES:
            tests.append(f"<li class='failed-test'><b>{_e(case['outcome'])}</b> "
                         f"<code>{_e(case['nodeid'])}</code>"
                         f"<pre>{_e(for_people(case['message']))}</pre></li>")
    items: list[str] = []  # what the run found: the evidence behind those, listed not counted
    gate = doc["benchmarks"].get("gate") or {}
    for verdict in gate.get("verdicts", []):
        if verdict["status"] == "SLOWER":
            items.append(f"<li><b>benchmark regression</b> <code>{_e(verdict['name'])}</code>: "
                         f"{_ratio_text(verdict)}</li>")
    for m in doc["matrix"]["mismatches"]:
        items.append(f"<li><b>access mismatch</b> {_e(m['actor'])} {_e(m['operation'])} "
                     f"{_e(m['table'])} [{_e(m['case'])}] of a {_e(m['privacy'])} owner"
                     f"{' with ' + _e(m['claims']) + ' claims' if m.get('claims') else ''}: "
                     f"expected {_e(m['expected'])}, got {_e(m['actual'])} "
                     f"({_e(m['detail'])})</li>")
    for f in doc["lints"]["findings"]:
        if not f.get("declared"):
            items.append(f"<li><b>lint {_e(f.get('severity'))}</b> {_e(f.get('rule'))} on "
                         f"<code>{_e(f.get('object'))}</code>: {_e(f.get('message'))}</li>")
    for c in doc["chaos"]:
        if chaos_failed(c):
            items.append(f"<li><b>chaos</b> {_e(c['experiment'])}: ledger violations "
                         f"{_e(c.get('violations'))}</li>")
    for run in doc["load"]:
        if run.get("this_run") and run.get("passed") is False:
            items.append(f"<li><b>load</b> {_e(run.get('run'))}: "
                         f"{_e('; '.join(run.get('violations', [])))}</li>")
    out = ["<h2 id='failures'>Failures</h2>"]
    if tests or items:
        out.append(f"<div class='bad-box'>{failure_count_text(len(tests), len(items))}</div>"
                   f"<ol class='failures'>{''.join(tests + items)}</ol>")
    else:
        out.append("<div class='ok-box'>No failures: no failed test, no benchmark regression, "
                   "no access mismatch, no lint error, no chaos ledger violation.</div>")
    return out


def failure_count_text(tests: int, found: int) -> str:
    """The Failures header: failing tests as pytest counts them; what the run found besides
    (mismatches, failing lint findings, regressions: the evidence) is named, not added."""
    parts = [f"{tests} failing test{'s' if tests != 1 else ''}"] if tests else []
    if found:
        parts.append(f"{found} finding{'s' if found != 1 else ''} listed below")
    return "; ".join(parts)


def _ratio_text(v: Mapping[str, Any]) -> str:
    judged = "vs machine reference" if v.get("normalized") else "raw"
    return (f"median {v['baseline_median'] * 1e3:.3f} &rarr; {v['current_median'] * 1e3:.3f} ms "
            f"(raw x{v['raw_ratio']:.2f}; {judged} x{v['ratio']:.2f}, 95% CI "
            f"{v['ci'][0]:.2f}-{v['ci'][1]:.2f}, p(slower)={v['p_slower']:.2g})")


def _benchmarks(doc: Mapping[str, Any], current_ms: Mapping[str, Sequence[float]],
                baseline_ms: Mapping[str, Sequence[float]],
                history: Sequence[tuple[str, Mapping[str, float]]]) -> list[str]:
    out = ["<h2 id='benchmarks'>Benchmarks</h2>"]
    if not current_ms:
        out.append("<p>No benchmarks ran in this run.</p>")
        return out
    gate = doc["benchmarks"].get("gate")
    slow = [v["name"] for v in (gate or {}).get("verdicts", []) if v["status"] == "SLOWER"]
    if gate:
        if gate.get("kind") == "same run":
            against = (f"Same-run gate: the stack under test against <code>"
                       f"{_e(gate['baseline'])}</code>, both on this server in this run, "
                       "rounds interleaved")
            per_round = ", found again when measured a second time"
        else:
            against = (f"Gate against <code>{_e(gate['baseline'])}</code> (recorded "
                       f"elsewhere; this machine class <b>{_e(gate['machine_class'])}</b>)")
            per_round = ", each round divided by its machine-reference round"
        out.append(
            f"<p>{against}: <b>{len(gate['regressions'])} "
            f"regression(s)</b> in {len(gate['verdicts'])} benchmarks. Rule: one-sided "
            f"Mann-Whitney p &lt; {ALPHA} and the 95% bootstrap CI of the median ratio above "
            f"+{MIN_EFFECT:.0%}{per_round}.</p>")
        out.append("<table>" + _head("benchmark", "status", "baseline median ms",
                                     "this run median ms", "raw ratio", "judged ratio",
                                     "95% CI", "p(slower)", "rounds"))
        order = {"SLOWER": 0, "faster": 1, "same": 2}
        for v in sorted(gate["verdicts"], key=lambda v: (order.get(v["status"], 3), v["name"])):
            out.append(
                f"<tr class='{_e(v['status'])}'><td class='l'>{_e(v['name'])}</td>"
                f"<td>{_e(v['status'])}</td><td>{v['baseline_median'] * 1e3:.3f}</td>"
                f"<td>{v['current_median'] * 1e3:.3f}</td><td>x{v['raw_ratio']:.2f}</td>"
                f"<td>x{v['ratio']:.2f}{'' if v.get('normalized') else ' (raw)'}</td>"
                f"<td>{v['ci'][0]:.2f}-{v['ci'][1]:.2f}</td><td>{v['p_slower']:.2g}</td>"
                f"<td>{v['rounds'][0]}/{v['rounds'][1]}</td></tr>")
        out.append("</table>")
        again = [v for v in gate["verdicts"] if v.get("unconfirmed")]
        if again:
            out.append("<p>Measured again: a first measurement found a regression that the "
                       "second did not:</p><ul>" + "".join(
                           f"<li><b>{_e(v['name'])}</b>: {_e(v['unconfirmed'])}</li>"
                           for v in again) + "</ul>")
        if gate["problems"]:
            out.append("<p>Not compared:</p><ul>"
                       + "".join(f"<li>{_e(p)}</li>" for p in gate["problems"]) + "</ul>")
    else:
        out.append("<p>No baseline comparison in this run (the gate test did not run or was "
                   "skipped: see its reason under All tests).</p>")
        out.append("<table>" + _head("benchmark", "median ms per call", "rounds"))
        for name, median in sorted(doc["benchmarks"]["medians_ms"].items()):
            out.append(_row([name, f"{median:.3f}", doc["benchmarks"]["rounds"][name]]))
        out.append("</table>")
    out.append("<h3>Latency distribution per query</h3>")
    out.append(plots.distributions(current_ms, slow))
    if set(baseline_ms) & set(current_ms):
        out.append("<h3>Baseline vs this run</h3>")
        out.append(plots.baseline_vs_current(baseline_ms, current_ms, slow))
    if history:
        out.append("<h3>History across runs</h3>")
        out.append(plots.history(history))
    return out


def _matrix(doc: Mapping[str, Any], report: RunReport) -> list[str]:
    m = doc["matrix"]
    out = ["<h2 id='matrix'>Security matrix</h2>"]
    if not m["cells_checked"]:
        out.append("<p>The access matrix did not run in this run.</p>")
    else:
        out.append(f"<p>{m['cells_checked']} cells checked, <b>{len(m['mismatches'])} "
                   f"mismatches</b> in {m['seconds']:.1f} s; outcomes digest "
                   f"<code>{_e(m['outcomes_digest'][:16])}</code>.</p>")
        if m["mismatches"]:
            out.append("<table>" + _head("actor", "table", "operation", "privacy", "case",
                                         "claims", "expected", "actual", "detail"))
            for c in m["mismatches"]:
                out.append(_row([c.get(k) or "" for k in (
                    "actor", "table", "operation", "privacy", "case", "claims", "expected",
                    "actual", "detail")], "SLOWER"))
            out.append("</table>")
        out.append(f"<details><summary>Every cell, table by table ({m['cells_checked']})"
                   "</summary>" + "\n".join(matrix_tables(report.cells)) + "</details>")
    out += lint_table(doc["lints"]["findings"])
    return out


def lint_table(findings: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every lint finding: failing ones first, then the declared ones with their reason."""
    if not findings:
        return []
    failing = [f for f in findings if not f.get("declared")]
    out = [f"<h3 id='lints'>Schema lint findings ({len(findings)}: {len(failing)} failing, "
           f"{len(findings) - len(failing)} declared)</h3><table class='lints'>"
           + _head("status", "rule", "severity", "object", "message")]
    ranked = sorted(findings, key=lambda f: (bool(f.get("declared")),
                                             not str(f.get("severity")).endswith("error")))
    for f in ranked:
        status = ("<td class='l declared'>declared: " + _e(f["declared"]) + "</td>"
                  if f.get("declared") else "<td class='l failing'>FAILING</td>")
        out.append(f"<tr class='lint'>{status}" + "".join(
            f"<td class='l'>{_e(f.get(k))}</td>" for k in ("rule", "severity", "object",
                                                           "message")) + "</tr>")
    out.append("</table>")
    return out


def _cases_table(cases: Sequence[Mapping[str, Any]], table_id: str = "") -> str:
    rank = {"failed": 0, "error": 0, "xpassed": 0, "skipped": 1, "xfailed": 1}
    ident = f" id='{table_id}'" if table_id else ""
    rows = [f"<table class='cases'{ident}>"
            + _head("test", "outcome", "seconds", "reason / message")]
    for c in sorted(cases, key=lambda c: rank.get(c["outcome"], 2)):
        message = (f"<pre>{_e(for_people(c['message']))}</pre>" if c["outcome"] in BAD_OUTCOMES
                   else _e(c["message"]))
        path, _, name = str(c["nodeid"]).partition("::")
        rows.append(f"<tr class='case' data-outcome='{_e(c['outcome'])}'>"
                    f"<td class='l test'><small>{_e(path)}</small><br>"
                    f"<code>{_e(name or path)}</code></td>"
                    f"<td class='outcome-{_e(c['outcome'])}'>{_e(c['outcome'])}</td>"
                    f"<td>{c['duration']:.2f}</td><td class='l reason'>{message}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _auth(doc: Mapping[str, Any]) -> list[str]:
    cases = [c for c in doc["tests"]["cases"] if c["suite"] == "auth"]
    out = ["<h2 id='auth'>Auth</h2>"]
    if not cases:
        return [*out, "<p>The auth suite did not run in this run.</p>"]
    counts = _count(cases)
    out.append("<p>suites/auth: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
               + ".</p>")
    out.append(_cases_table(cases))
    return out


def _chaos(doc: Mapping[str, Any]) -> list[str]:
    out = ["<h2 id='chaos'>Chaos</h2>"]
    if not doc["chaos"]:
        return [*out, "<p>No chaos experiment reported in this run (reports/chaos).</p>"]
    out.append("<table>" + _head("experiment", "status", "config", "fault", "heal s",
                                 "recovery s", "ack/failed/unknown", "ledger", "violations"))
    ranked = sorted(doc["chaos"], key=lambda c: not chaos_failed(c))
    for c in ranked:
        o = c.get("outcomes") or {}
        outcomes = f"{o.get('acknowledged', '-')}/{o.get('failed', '-')}/{o.get('unknown', '-')}"
        faults = c.get("faults") or [{}]
        bad = {k: v for k, v in (c.get("violations") or {}).items() if v}
        for f in faults:
            cells = [c.get("status") or "-", c.get("config") or "-", f.get("fault") or "-",
                     _num(f.get("heal_seconds")), _num(f.get("recovery_seconds")), outcomes,
                     _ledger_text(c), ", ".join(f"{k} {v}" for k, v in bad.items()) or "none"]
            out.append(f"<tr class='{_chaos_css(c)}'><td class='l wrap'>"
                       f"{_e(c['experiment'])}</td>"
                       + "".join(f"<td class='l'>{_e(v)}</td>" for v in cells) + "</tr>")
    out.append("</table>")
    return out


def _ledger_text(c: Mapping[str, Any]) -> str:
    if c.get("ledger_ok") is None:
        return "-"
    if c["ledger_ok"]:
        return "ok"
    return "lost, expected (negative control)" if c.get("negative_control") else "VIOLATED"


def _chaos_css(c: Mapping[str, Any]) -> str:
    if chaos_failed(c):
        return "SLOWER"
    return "outcome-skipped" if c.get("ledger_ok") is False else ""


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"


def _load(doc: Mapping[str, Any]) -> list[str]:
    out = ["<h2 id='load'>Load</h2>"]
    if not doc["load"]:
        return [*out, "<p>No load run summary in reports/load (the load suite needs PostgREST"
                      "; see its skip reason under All tests).</p>"]
    if not any(run.get("this_run") for run in doc["load"]):
        out.append("<p>These summaries were written before this run.</p>")
    out.append("<table>" + _head("run", "passed", "requests", "error rate", "p50 ms", "p95 ms",
                                 "p99 ms", "violations"))
    for run in sorted(doc["load"], key=lambda r: r.get("passed") is not False):
        total = run.get("total") or {}
        pct = total.get("percentiles_ms") or {}
        out.append(_row([run.get("run"), run.get("passed"), total.get("requests"),
                         total.get("error_rate"), pct.get("p50"), pct.get("p95"),
                         pct.get("p99"), "; ".join(run.get("violations") or []) or "none"],
                        "SLOWER" if run.get("passed") is False else ""))
    out.append("</table>")
    return out


def _count(cases: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in cases:
        counts[c["outcome"]] = counts.get(c["outcome"], 0) + 1
    return counts


def _all_tests(doc: Mapping[str, Any]) -> list[str]:
    cases = doc["tests"]["cases"]
    suites: dict[str, list[Mapping[str, Any]]] = {}
    for c in cases:
        suites.setdefault(c["suite"], []).append(c)
    outcomes = ["failed", "error", "passed", "skipped", "xfailed", "xpassed"]
    out = ["<h2 id='tests'>All tests</h2><table>" + _head("suite", *outcomes, "seconds")]
    for suite, group in sorted(suites.items(), key=lambda kv: -sum(
            c["outcome"] in BAD_OUTCOMES for c in kv[1])):
        counts = _count(group)
        css = "SLOWER" if any(c["outcome"] in BAD_OUTCOMES for c in group) else ""
        out.append(_row([suite, *(counts.get(o, 0) for o in outcomes),
                         f"{sum(c['duration'] for c in group):.1f}"], css))
    out.append("</table>")
    if cases:
        out.append(f"<h3>Every test ({len(cases)})</h3>" + _filter_bar(cases)
                   + _cases_table(cases, "every-test"))
    return out


def _filter_bar(cases: Sequence[Mapping[str, Any]]) -> str:
    """Outcome checkboxes and a text box over the table of every test (like pytest-html)."""
    counts = _count(cases)
    boxes = "".join(
        f"<label><input type='checkbox' class='outcome-filter' value='{_e(o)}' checked> "
        f"{_e(o)} ({counts[o]})</label>"
        for o in ("failed", "error", "xpassed", "passed", "skipped", "xfailed") if o in counts)
    return (f"<div class='filter'>{boxes}<input type='search' id='test-filter' "
            "placeholder='filter by name or message'></div>" + FILTER_SCRIPT)


FILTER_SCRIPT = """<script>
(function(){
  function apply(){
    var on = {}, text = document.getElementById('test-filter').value.toLowerCase();
    document.querySelectorAll('.outcome-filter').forEach(function(b){ on[b.value] = b.checked; });
    document.querySelectorAll('#every-test tr.case').forEach(function(row){
      var show = on[row.dataset.outcome] && row.textContent.toLowerCase().indexOf(text) >= 0;
      row.style.display = show ? '' : 'none';
    });
  }
  document.addEventListener('input', function(e){
    if (e.target.id === 'test-filter' || e.target.classList.contains('outcome-filter')) apply();
  });
})();
</script>"""


def render_index(docs: Sequence[Mapping[str, Any]], runs_dirname: str = "runs",
                 parity: Sequence[Mapping[str, Any]] = ()) -> str:
    """The index of runs, newest first, with each run's suites and migrations and the trend
    over runs (then the parity reports across targets)."""
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>SoberTube harness runs"
        f"</title><style>{STYLE}</style></head><body><h1>Harness runs</h1>",
        f"<p class='meta'>{len(docs)} run(s), newest first.</p>",
    ]
    if len(docs) > 1:
        out.append("<h2 id='trend'>Trend</h2>" + plots.trend(run_index.trend_points(docs)))
    out.append("<table class='runs'>"
               + _head("run", "verdict", "started (UTC)", "target", "suites", "migrations",
                       "tests", "matrix mismatches", "benchmark regressions", "seconds"))
    for d in docs:
        gate = d.get("benchmarks", {}).get("gate") or {}
        regressions = len(gate.get("regressions", [])) if gate else "-"
        counts = d.get("tests", {}).get("counts", {})
        link = f"{runs_dirname}/{folder_name(str(d.get('run_id')))}/index.html"
        verdict = str(d.get("verdict"))
        suites = ", ".join(f"{k} {v}" for k, v in sorted(run_index.suite_counts(d).items()))
        found = run_index.mismatches(d)
        out.append(
            f"<tr><td class='l'><a href='{_e(link)}'>{_e(d.get('run_id'))}</a></td>"
            f"<td><span class='verdict {_e(verdict)}'>{_e(verdict)}</span></td>"
            f"<td>{_e(str(d.get('started', ''))[:19].replace('T', ' '))}</td>"
            f"<td>{_e((d.get('target') or {}).get('name'))}</td>"
            f"<td class='l suites'>{_e(suites or '-')}</td>"
            f"<td class='l migrations'>{_e(run_index.migrations_text(d))}</td>"
            f"<td class='l'>{_e(', '.join(f'{k} {v}' for k, v in sorted(counts.items())))}</td>"
            f"<td>{'-' if found is None else found}</td>"
            f"<td>{regressions}</td><td>{float(d.get('duration_s', 0)):.0f}</td></tr>")
    out.append("</table>")
    if parity:
        out.append("<h2>Parity across targets</h2><table>" + _head("report", "verdict", "targets"))
        for p in parity:
            verdict = str(p.get("verdict"))
            css = "passed" if verdict == "identical behaviour" else "failed"
            out.append(f"<tr><td class='l'><a href='{_e(p.get('link'))}'>{_e(p.get('name'))}"
                       f"</a></td><td><span class='verdict {css}'>{_e(verdict)}</span></td>"
                       f"<td class='l'>{_e(', '.join(map(str, p.get('targets') or [])))}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
