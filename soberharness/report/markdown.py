"""The run as Markdown, for CI logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soberharness.report.run_report import RunReport


def render_markdown(report: RunReport) -> str:
    s = report.summary()
    m = s["matrix"]
    lines = [
        f"# SoberTube harness: target `{report.target}` ({report.target_kind})",
        "",
        f"- cells checked: **{m['cells_checked']}**, mismatches: **{len(m['mismatches'])}**"
        + (f", {m['cells_per_second']} cells/s" if m["cells_per_second"] else ""),
        f"- lint findings: {len(report.lints)} ({len(report.lint_errors)} failing)",
        f"- tests: {', '.join(f'{k} {v}' for k, v in sorted(report.outcomes.items())) or 'none'}",
        f"- duration: {s['duration_s']:.1f}s",
        "",
    ]
    if m["mismatches"]:
        lines += [
            "## Mismatches",
            "",
            "| actor | table | operation | privacy | case | expected | actual | detail |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {c['actor']} | {c['table']} | {c['operation']} | {c['privacy']} | {c['case']} "
            f"| {c['expected']} | {c['actual']} | {c['detail']} |"
            for c in m["mismatches"]
        ]
        lines.append("")
    if report.lints:
        lines += [
            "## Lint findings",
            "",
            "| rule | severity | object | message |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {f.rule} | {f.severity.value}{' (declared)' if f.declared else ''} | `{f.object}` "
            f"| {f.message}{f' — declared: {f.declared}' if f.declared else ''} |"
            for f in report.lints
        ]
        lines.append("")
    for key, value in sorted(report.notes.items()):
        lines += note_lines(key, value)
    return "\n".join(lines) + "\n"


def note_lines(key: str, value: Any, depth: int = 0) -> list[str]:
    """A note as nested bullets: a mapping's keys and a list's items each on a line of their
    own (never a Python repr of a dict)."""
    indent = "  " * depth
    if isinstance(value, Mapping):
        out = [f"{indent}- {key}:" if key else f"{indent}-"]
        for k, v in value.items():
            out += note_lines(str(k), v, depth + 1)
        return out if value else [f"{indent}- {key}: none"]
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        if all(not isinstance(i, Mapping | list | tuple | set | frozenset) for i in items):
            return [f"{indent}- {key}: {', '.join(str(i) for i in items) or 'none'}"]
        out = [f"{indent}- {key}:"]
        for item in items:
            out += note_lines("", item, depth + 1)
        return out
    return [f"{indent}- {key}: {value}" if key else f"{indent}- {value}"]
