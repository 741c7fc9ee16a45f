"""One look at a live Prometheus of the stack: its targets once scraped, and the findings
(targets down, rules without data) with what the report needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from soberharness.ops import gaps, judge, promapi
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


class LiveMonitoring:
    """A running monitoring stack, its receiver, and one look at Prometheus once every target
    was scraped (taken before any test breaks anything)."""

    def __init__(self, stack: MonitoringStack, receiver: WebhookReceiver, first: Look) -> None:
        self.stack = stack
        self.receiver = receiver
        self.first = first
        self.started_s = 0.0

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
        }
