"""The stack's Prometheus config and alert rules rendered for a local run: in-network
addresses replaced by the 127.0.0.1 ports of the processes playing them, intervals and `for:`
durations shortened (recorded, so a report says so), Alertmanager added. Addresses no local
process plays are left as they are: Prometheus then reports that target down (a finding)."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from soberharness.ops.judge import STACK_ADDRESS

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> float:
    """A Prometheus duration ('1m', '90s', '1h30m') in seconds."""
    parts = _DURATION.findall(str(duration))
    if not parts or "".join(n + u for n, u in parts) != str(duration):
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


@dataclasses.dataclass(frozen=True)
class Timing:
    """The rendered copy's clock: scrape and evaluation every `interval_s`; every `for:` made
    `for_s` (the stack's own are minutes long)."""

    interval_s: int = 1
    for_s: int = 4
    # An age threshold of an hour or more (`<metric>_seconds ... > N`) made this many seconds:
    # a backup cannot be made a day old in a test, it can be left to age for seconds.
    age_s: int = 8


_AGE = re.compile(r"(_seconds\b[^><]*>\s*)(\d+)(?![\d.])")
AGE_FLOOR_S = 3600


@dataclasses.dataclass
class Rendered:
    config: dict[str, Any]
    rules: dict[str, Any]
    unmapped: list[str]  # scrape targets no local process plays, left as they are
    shortened: dict[str, tuple[str, str]]  # alert -> (stack's for:, rendered for:)
    thresholds: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    # alert -> (stack's age threshold, rendered one), in seconds


def render_config(config: Mapping[str, Any], addresses: Mapping[str, str], timing: Timing,
                  alertmanager: str | None, nowhere: str
                  ) -> tuple[dict[str, Any], list[str]]:
    """Each static target in a static config of its own, labelled with the address the stack
    names (STACK_ADDRESS); one no local process plays is sent to `nowhere` (a closed
    127.0.0.1 port: no name is looked up off this machine), so Prometheus reports it down."""
    out = copy.deepcopy(dict(config))
    interval = f"{timing.interval_s}s"
    out["global"] = {**(out.get("global") or {}), "scrape_interval": interval,
                     "evaluation_interval": interval, "scrape_timeout": interval}
    unmapped: list[str] = []
    for job in out.get("scrape_configs") or []:
        job.pop("scrape_interval", None)
        job.pop("scrape_timeout", None)
        statics = []
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                if target not in addresses:
                    unmapped.append(f"{job.get('job_name')}: {target}")
                labels = {**(static.get("labels") or {}), STACK_ADDRESS: target}
                statics.append({"targets": [addresses.get(target, nowhere)], "labels": labels})
        job["static_configs"] = statics
    if alertmanager:
        out["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return out, unmapped


def render_rules(rules: Mapping[str, Any], timing: Timing
                 ) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    out = copy.deepcopy(dict(rules))
    shortened: dict[str, tuple[str, str]] = {}
    for group in out.get("groups") or []:
        group.pop("interval", None)
        for rule in group.get("rules") or []:
            if "for" in rule and seconds(rule["for"]) > timing.for_s:
                new = f"{timing.for_s}s"
                shortened[rule.get("alert") or rule.get("record")] = (rule["for"], new)
                rule["for"] = new
    return out, shortened


def shorten_ages(rules: dict[str, Any], timing: Timing) -> dict[str, tuple[float, float]]:
    """Each alert's age threshold of an hour or more made `timing.age_s` (in place)."""
    changed: dict[str, tuple[float, float]] = {}
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            def one(match: re.Match[str], rule: dict[str, Any] = rule) -> str:
                if int(match.group(2)) < AGE_FLOOR_S:
                    return match.group(0)
                changed[rule.get("alert") or rule.get("record")] = (
                    float(match.group(2)), float(timing.age_s))
                return f"{match.group(1)}{timing.age_s}"
            rule["expr"] = _AGE.sub(one, str(rule.get("expr", "")))
    return changed


def render(config: Mapping[str, Any], rules: Mapping[str, Any], addresses: Mapping[str, str],
           timing: Timing, alertmanager: str | None, nowhere: str) -> Rendered:
    conf, unmapped = render_config(config, addresses, timing, alertmanager, nowhere)
    rendered_rules, shortened = render_rules(rules, timing)
    thresholds = shorten_ages(rendered_rules, timing)
    return Rendered(conf, rendered_rules, unmapped, shortened, thresholds)


def alert_for(rules: Mapping[str, Any], alert: str) -> float:
    """The `for:` of `alert` in seconds (0 when it has none)."""
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            if rule.get("alert") == alert:
                return seconds(rule["for"]) if "for" in rule else 0.0
    raise KeyError(alert)
