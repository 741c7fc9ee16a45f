"""The access matrix as one HTML page: mismatches first, then every table coloured allow/deny."""

from __future__ import annotations

import html
from collections import defaultdict
from typing import TYPE_CHECKING

from soberharness.records.results import CellResult

if TYPE_CHECKING:
    from soberharness.report.run_report import RunReport

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.2rem .45rem;font-size:.85rem;text-align:center}
th.case{text-align:left}
.allow{background:#d8f5d0}.deny{background:#f7d6d6}
.bad{outline:3px solid #c00;font-weight:bold}
.summary{font-size:1.05rem}
table.grid{table-layout:fixed;width:100%;max-width:100%}
table.grid td,table.grid th{padding:.15rem .2rem;font-size:.78rem;overflow-wrap:anywhere}
table.grid thead th{position:sticky;top:0;background:#f4f4f4;z-index:1;vertical-align:bottom;
 font-size:.72rem;overflow-wrap:anywhere}
table.grid col.op{width:3.6rem}table.grid col.case{width:10rem}
table.grid col.privacy{width:4.6rem}table.grid col.claims{width:5.6rem}
"""


def _cell(result: CellResult | None) -> str:
    if result is None:
        return "<td>·</td>"
    verdict = "allow" if result.actual else "deny"
    css = verdict + ("" if result.ok else " bad")
    title = html.escape(
        f"expected {'allow' if result.expected else 'deny'}, got {verdict}: {result.detail}"
        + (f" ({result.cell.token} token)" if result.cell.token else "")
    )
    mark = "✓" if result.actual else "✗"
    return f'<td class="{css}" title="{title}">{mark}</td>'


def render_html(report: RunReport) -> str:
    s = report.summary()
    m = s["matrix"]
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>SoberTube access matrix: {html.escape(report.target)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Access matrix: target {html.escape(report.target)} ({report.target_kind})</h1>",
        f"<p class='summary'>{m['cells_checked']} cells checked, "
        f"<b>{len(m['mismatches'])} mismatches</b>, {len(report.lints)} lint findings "
        f"({len(report.lint_errors)} failing), {s['duration_s']:.1f}s.</p>",
    ]
    if report.mismatches:
        out.append(
            "<h2>Mismatches</h2><table><tr><th>actor</th><th>table</th><th>operation</th>"
            "<th>privacy</th><th>case</th><th>expected</th><th>actual</th><th>detail</th></tr>"
        )
        for r in report.mismatches:
            c = r.cell
            out.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(v))}</td>"
                    for v in (
                        c.actor,
                        c.table,
                        c.op.value,
                        c.privacy,
                        c.case + (f" ({c.token} token)" if c.token else ""),
                        "allow" if r.expected else "deny",
                        "allow" if r.actual else "deny",
                        r.detail,
                    )
                )
                + "</tr>"
            )
        out.append("</table>")
    if report.lints:
        out.append(
            "<h2>Lint findings</h2><table><tr><th>rule</th><th>severity</th>"
            "<th>object</th><th>message</th></tr>"
        )
        for f in report.lints:
            out.append(
                f"<tr><td>{f.rule}</td><td>{f.severity.value}"
                f"{' (declared)' if f.declared else ''}</td><td>{html.escape(f.object)}</td>"
                f"<td>{html.escape(f.message)}"
                f"{'<br><i>declared: ' + html.escape(f.declared) + '</i>' if f.declared else ''}"
                "</td></tr>"
            )
        out.append("</table>")
    out += _tables(report.cells)
    out.append("</body></html>")
    return "\n".join(out)


def _actor_header(actor: str) -> str:
    """An actor's column head, breakable after each `+` (moderator+follower)."""
    return html.escape(actor).replace("+", "+<wbr>")


def _tables(cells: list[CellResult]) -> list[str]:
    """One grid per matrix table: rows are (operation, case, claims, privacy), columns are
    actors. The grid fits the page (fixed layout), its head stays in view while scrolling, and
    the claims a signed-in actor's token carried are a column of their own."""
    by_table: dict[str, list[CellResult]] = defaultdict(list)
    for r in cells:
        by_table[r.cell.table].append(r)
    out = []
    for table, results in by_table.items():
        actors = list(dict.fromkeys(r.cell.actor for r in results))
        rows: dict[tuple[str, str, str, str], dict[str, CellResult]] = defaultdict(dict)
        for r in results:
            key = (r.cell.op.value, r.cell.case, r.cell.token, r.cell.privacy)
            rows[key][r.cell.actor] = r
        out.append(
            f"<h2>{html.escape(table)}</h2><table class='grid'>"
            "<colgroup><col class='op'><col class='case'><col class='claims'>"
            "<col class='privacy'>" + "<col>" * len(actors) + "</colgroup>"
            "<thead><tr><th>op</th><th class='case'>case</th><th>claims</th>"
            "<th>owner privacy</th>"
            + "".join(f"<th>{_actor_header(a)}</th>" for a in actors)
            + "</tr></thead><tbody>"
        )
        for (op, case, token, privacy), by_actor in rows.items():
            out.append(
                f"<tr><td>{op}</td><th class='case'>{html.escape(case)}</th>"
                f"<td class='claims'>{html.escape(token) or '·'}</td>"
                f"<td>{privacy}</td>" + "".join(_cell(by_actor.get(a)) for a in actors) + "</tr>"
            )
        out.append("</tbody></table>")
    return out
