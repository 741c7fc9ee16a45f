"""The parity report as one self-contained HTML page: differences first, then everything."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from soberharness.parity.compare import BEHAVIOUR, COVERAGE, SAME, Check, ParityReport
from soberharness.report.run_page import STYLE

CSS = STYLE + """
td.differs { background: #fde2e2; font-weight: 600; }
td.neutral { color: #777; }
.verdict.identical { background: #2e8b57; }
.verdict.differs, .verdict.not-comparable { background: #c62828; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _checks_table(checks: Sequence[Check], labels: Sequence[str]) -> str:
    rows = ["<table><tr><th>kind</th><th class='l'>check</th>"
            + "".join(f"<th>{_e(label)}</th>" for label in labels) + "</tr>"]
    for check in checks:
        values = [check.outcomes.get(label, "absent") for label in labels]
        majority = max(set(values), key=values.count)
        cells = []
        for value in values:
            css = "neutral" if value in ("absent", "skipped") else (
                "differs" if check.verdict == BEHAVIOUR and value != majority else "")
            cells.append(f"<td class='{css}'>{_e(value)}</td>")
        rows.append(f"<tr><td>{_e(check.kind)}</td><td class='l'>{_e(check.name)}</td>"
                    + "".join(cells) + "</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def render_parity(report: ParityReport) -> str:
    labels = report.labels
    verdict_css = {0: "identical", 1: "differs", 5: "not-comparable"}[report.exit_code]
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>SoberTube parity report"
        f"</title><style>{CSS}</style></head><body><h1>Parity across targets</h1>",
        f"<p><span class='verdict {verdict_css}'>{_e(report.verdict)}</span> "
        f"over {len(labels)} runs: "
        + ", ".join(f"<b>{_e(label)}</b> ({_e(folder)})"
                    for label, folder in zip(labels, report.folders, strict=True)) + "</p>",
    ]
    if report.not_comparable:
        out.append("<h2>Not comparable</h2><ul>"
                   + "".join(f"<li>{_e(p)}</li>" for p in report.not_comparable) + "</ul>")
    behaviour = report.with_verdict(BEHAVIOUR)
    out.append(f"<h2>Behaviour differences ({len(behaviour)})</h2>")
    out.append(_checks_table(behaviour, labels) if behaviour else "<p>None.</p>")
    envdiff = [e for e in report.environment if e.differs]
    out.append(f"<h2>Environment differences ({len(envdiff)})</h2>"
               "<p class='meta'>What may explain a difference.</p>")
    out.append(_env_table(envdiff, labels) if envdiff else "<p>None.</p>")
    perf = report.performance
    out.append(f"<h2>Performance differences ({len(perf)})</h2><p class='meta'>p50/p95 in ms "
               f"against the fleet median; beyond {report.factor}x either way.</p>")
    out.append(_latency_table(perf, labels) if perf else "<p>None.</p>")
    coverage = report.with_verdict(COVERAGE)
    out.append(f"<h2>Coverage differences ({len(coverage)})</h2>"
               "<p class='meta'>Ran on some targets, skipped or absent on others.</p>")
    out.append(_checks_table(coverage, labels) if coverage else "<p>None.</p>")
    same = report.with_verdict(SAME)
    out.append(f"<details><summary>Same on every target ({len(same)} checks)</summary>"
               + _checks_table(same, labels) + "</details>")
    out.append(f"<details><summary>All latency bands ({len(report.latency)})</summary>"
               + _latency_table(report.latency, labels) + "</details>")
    out.append(f"<details><summary>Each target's environment ({len(report.environment)} keys)"
               "</summary>" + _env_table(report.environment, labels) + "</details>")
    out.append("</body></html>")
    return "\n".join(out)


def _env_table(rows: Sequence[Any], labels: Sequence[str]) -> str:
    out = ["<table><tr><th class='l'>key</th>"
           + "".join(f"<th>{_e(label)}</th>" for label in labels) + "</tr>"]
    for row in rows:
        css = "differs" if row.differs else ""
        out.append(f"<tr><td class='l'>{_e(row.key)}</td>"
                   + "".join(f"<td class='l {css}'>{_e(row.values.get(label, 'absent'))}</td>"
                             for label in labels) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _latency_table(rows: Sequence[Any], labels: Sequence[str]) -> str:
    out = ["<table><tr><th>source</th><th class='l'>name</th><th>fleet p50/p95</th>"
           + "".join(f"<th>{_e(label)}</th>" for label in labels) + "</tr>"]
    for row in rows:
        cells = []
        for label in labels:
            if label not in row.p50:
                cells.append("<td class='neutral'>-</td>")
                continue
            note = row.outliers.get(label, "")
            cells.append(f"<td class='{'differs' if note else ''}'>{row.p50[label]:.2f} / "
                         f"{row.p95[label]:.2f}{_e(' ' + note) if note else ''}</td>")
        out.append(f"<tr><td>{_e(row.source)}</td><td class='l'>{_e(row.name)}</td>"
                   f"<td>{row.fleet_p50:.2f} / {row.fleet_p95:.2f}</td>" + "".join(cells)
                   + "</tr>")
    out.append("</table>")
    return "\n".join(out)
