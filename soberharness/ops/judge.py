"""Judging a live Prometheus (pure: takes what its API answered, returns findings).

Two findings make an alert unable to fire in a real deployment:
- a scrape target that is down (nothing answers at the address the config names);
- a rule none of whose metrics any target exports (its expression never has data).
A rule naming several metrics (`a or b`) is a finding only when none of them has series; the
metrics it names that have none are listed with it either way.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

# PromQL words that look like metric names but are not.
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "bool", "offset", "inf", "nan", "atan2"}
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_NAME = re.compile(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()")


def metric_names(expr: str) -> list[str]:
    """The metric names a PromQL expression selects, in order, once each."""
    text = _STRINGS.sub('""', expr)
    text = _BRACES.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    names: list[str] = []
    for name in _NAME.findall(text):
        if name.lower() not in _KEYWORDS and name not in names:
            names.append(name)
    return names


def alert_rules(rules: Mapping[str, Any]) -> dict[str, str]:
    """alert name -> expression, over every group."""
    return {rule["alert"]: str(rule["expr"]) for group in rules.get("groups") or []
            for rule in group.get("rules") or [] if "alert" in rule}


STACK_ADDRESS = "stack_address"  # the target label holding the address the stack's config names


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: str  # "target down" | "rule without data"
    subject: str  # job and address, or the alert's name
    detail: str

    def line(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


def down_targets(active_targets: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """From /api/v1/targets' activeTargets: every target whose last scrape failed."""
    found = []
    for target in active_targets:
        if target.get("health") != "up":
            labels = target.get("labels", {})
            job = labels.get("job") or target.get("scrapePool", "?")
            address = labels.get(STACK_ADDRESS) or labels.get("instance", "?")
            error = target.get("lastError") or target.get("health", "unknown")
            found.append(Finding("target down", f"{job} {address}", str(error)[:200]))
    return sorted(found, key=lambda f: f.subject)


def rules_without_data(rules: Mapping[str, Any], exported: set[str]) -> list[Finding]:
    """Alerts none of whose metrics is in `exported` (the metric names with series)."""
    found = []
    for alert, expr in sorted(alert_rules(rules).items()):
        names = metric_names(expr)
        absent = [n for n in names if n not in exported]
        if names and len(absent) == len(names):
            found.append(Finding("rule without data", alert,
                                 "no target exports " + ", ".join(absent)))
    return found


def partly_without_data(rules: Mapping[str, Any], exported: set[str]) -> dict[str, list[str]]:
    """Alerts with data for some of their metrics: the ones missing (for the report)."""
    out = {}
    for alert, expr in sorted(alert_rules(rules).items()):
        names = metric_names(expr)
        absent = [n for n in names if n not in exported]
        if absent and len(absent) < len(names):
            out[alert] = absent
    return out


def panels_without_series(results: Mapping[str, tuple[str, int]]) -> list[Finding]:
    """From `{panel name: (rendered expression, series it returned)}`: every panel query that
    returned none (a dashboard panel that can only say "No data")."""
    return [Finding("panel without series", name, expr)
            for name, (expr, count) in sorted(results.items()) if count == 0]


def kpi_mismatches(expected: Mapping[str, float],
                   shown: Mapping[str, list[float]]) -> list[Finding]:
    """KPI panels whose value is not the count the world holds (`expected`, written by the test,
    never computed by the code under test): one value each is expected."""
    found = []
    for panel, want in sorted(expected.items()):
        got = shown.get(panel, [])
        if got != [want]:
            said = ", ".join(f"{v:g}" for v in got) if got else "no value"
            found.append(Finding("KPI off", panel, f"shows {said}, the world holds {want:g}"))
    return found
