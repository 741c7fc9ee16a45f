"""One look at a live Prometheus of the stack: its targets once scraped, and the findings
(targets down, rules without data) with what the report needs; the stack's dashboards' panel
queries run on it (panels without series, the values KPI panels show)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from soberharness.errors import HarnessError
from soberharness.ops import dashboards, gaps, judge, promapi
from soberharness.ops.monitoring import MonitoringStack
from soberharness.ops.receiver import WebhookReceiver


@dataclasses.dataclass
class Look:
    targets: list[dict[str, Any]]
    exported: set[str]
    down: list[judge.Finding]
    without_data: list[judge.Finding]
    partly: dict[str, list[str]]

    @property
    def findings(self) -> list[judge.Finding]:
        return [*self.down, *self.without_data]

    def lines(self) -> list[str]:
        return [f.line() for f in self.findings]


def look(prometheus_url: str, rules: Mapping[str, Any]) -> Look:
    targets = promapi.wait_scraped(prometheus_url)
    exported = promapi.exported_names(prometheus_url)
    return Look(targets, exported, judge.down_targets(targets),
                judge.rules_without_data(rules, exported),
                judge.partly_without_data(rules, exported))


@dataclasses.dataclass
class DashboardLook:
    results: dict[str, tuple[str, int]]  # panel query -> (rendered expression, series)
    skipped: dict[str, str]  # panel query -> why (a service the stack lacks)
    refused: list[judge.Finding]  # queries Prometheus refused
    without_series: list[judge.Finding]

    @property
    def findings(self) -> list[judge.Finding]:
        return [*self.refused, *self.without_series]

    def lines(self) -> list[str]:
        return [f.line() for f in self.findings]


def _rendered(prometheus_url: str, folder: Path, refused: list[judge.Finding] | None = None
              ) -> list[tuple[dashboards.PanelQuery, str]]:
    """Every panel query of the dashboards in `folder`, its variables given values. A dashboard
    whose variables get none is a finding in `refused` when given (else the error goes up)."""
    out = []
    for dashboard in dashboards.load(folder):
        try:
            given = dashboards.values(
                dashboard, lambda sel, label: promapi.label_values(prometheus_url, sel, label))
        except HarnessError as exc:
            if refused is None:
                raise
            refused.append(judge.Finding("dashboard variables without value", dashboard.title,
                                         str(exc)))
            continue
        out += [(q, dashboards.render(q.expr, given)) for q in dashboards.queries(dashboard)]
    return out


def look_dashboards(prometheus_url: str, folder: Path, services: Collection[Any],
                    where: str) -> DashboardLook:
    """Each panel query of each dashboard run once as an instant query. One without series is
    a finding, unless it reads a metric only a service `where` lacks exports (skipped, named)."""
    results: dict[str, tuple[str, int]] = {}
    skipped: dict[str, str] = {}
    refused: list[judge.Finding] = []
    for query, expr in _rendered(prometheus_url, folder, refused):
        try:
            count = len(promapi.series(prometheus_url, expr))
        except HarnessError as exc:
            refused.append(judge.Finding("panel query refused", query.name, f"{expr}: {exc}"))
            continue
        lacking = sorted(str(s) for s in dashboards.needed_services(expr) - set(services))
        if lacking and count == 0:
            skipped[query.name] = f"needs {', '.join(lacking)}, which {where} lacks"
            continue
        results[query.name] = (expr, count)
    return DashboardLook(results, skipped, refused, judge.panels_without_series(results))


def panel_values(prometheus_url: str, folder: Path, titles: Collection[str]
                 ) -> dict[str, list[float]]:
    """The values the panels titled `titles` show now (first query of each)."""
    shown: dict[str, list[float]] = {}
    for query, expr in _rendered(prometheus_url, folder):
        if query.panel in titles and query.panel not in shown:
            shown[query.panel] = [v for _, v in promapi.series(prometheus_url, expr)]
    return shown


def wait_kpis(prometheus_url: str, folder: Path, expected: Mapping[str, float],
              timeout: float) -> list[judge.Finding]:
    """The KPI panels' mismatches with `expected` once they agree or `timeout` passed (the
    exporter reads the views at each scrape)."""
    deadline = time.monotonic() + timeout
    while True:
        found = judge.kpi_mismatches(expected, panel_values(prometheus_url, folder, expected))
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)


class LiveMonitoring:
    """A running monitoring stack, its receiver, and one look at Prometheus once every target
    was scraped (taken before any test breaks anything)."""

    def __init__(self, stack: MonitoringStack, receiver: WebhookReceiver, first: Look) -> None:
        self.stack = stack
        self.receiver = receiver
        self.first = first
        self.started_s = 0.0
        self.dashboards = look_dashboards(stack.prometheus_url, stack.dashboards,
                                          stack.target.services, stack.target.name)

    def note(self) -> dict[str, Any]:
        """What the run report says of it: targets, findings, known gaps, the rendered clock."""
        rendered = self.stack.rendered
        return {
            "targets": [{"job": t["labels"].get("job"),
                         "address": t["labels"].get(judge.STACK_ADDRESS),
                         "health": t.get("health")} for t in self.first.targets],
            "findings": self.first.lines(),
            "known gaps": gaps.UNEXPORTED,
            "rules partly without data": self.first.partly,
            "scrape and evaluation interval (s)": self.stack.timing.interval_s,
            "for: shortened (stack's, rendered)": rendered.shortened if rendered else {},
            "age thresholds shortened (stack's, rendered; s)":
                rendered.thresholds if rendered else {},
            "start seconds": round(self.started_s, 1),
            "dashboard panel queries run": len(self.dashboards.results),
            "dashboard findings": self.dashboards.lines(),
            "dashboard panels skipped": self.dashboards.skipped,
        }
