"""The stack's Grafana dashboards (stack/monitoring/dashboards/*.json, Grafana's dashboard
model): every panel's queries, with the dashboard's template variables given a concrete value,
ready to be run as instant queries on the stack's live Prometheus.

Pure but for reading the files: what a variable's value is comes from the caller (`label_values`
asks Prometheus). Variables rendered: `$name`, `${name}`, `${name:fmt}`, `[[name]]`, and
Grafana's interval variables (`$__rate_interval`, `$__interval`, `$__range`, ...), given one
interval (RATE_INTERVAL: enough samples at any scrape interval the stack uses).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from soberharness.errors import HarnessError
from soberharness.ops import judge
from soberharness.targets.base import Service

RATE_INTERVAL = "1m"
_BUILTIN = re.compile(r"\$(?:\{)?(__rate_interval|__interval|__range|__interval_ms|__range_s)"
                      r"(?:\})?")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$")

# Metrics only a service of the stack exports: a panel on one of them has no series on a target
# without that service, and is skipped there by name (not passed).
NEEDS: dict[str, Service] = {
    # realtime.subscription is made by the Realtime server's own migrations
    "sobertube_realtime_subscribers": Service.REALTIME,
}


@dataclasses.dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # the dashboard's title
    panel: str  # the panel's title
    ref: str  # the target's refId
    expr: str  # as written in the dashboard

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} ({self.ref})"


@dataclasses.dataclass(frozen=True)
class Dashboard:
    path: Path
    model: Mapping[str, Any]

    @property
    def title(self) -> str:
        return str(self.model.get("title") or self.path.stem)

    def variables(self) -> list[Mapping[str, Any]]:
        return list((self.model.get("templating") or {}).get("list") or [])


def load(folder: Path) -> list[Dashboard]:
    """Every dashboard JSON file of `folder`, in name order; a file that is not a dashboard
    (no panels list) is one line."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            model = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise HarnessError(f"dashboard {path.name}: not JSON: {exc}") from None
        if not isinstance(model, dict) or not isinstance(model.get("panels"), list):
            raise HarnessError(f"dashboard {path.name}: no panels list (Grafana's model)")
        found.append(Dashboard(path, model))
    if not found:
        raise HarnessError(f"no dashboard JSON in {folder}")
    return found


def _panels(panels: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Panels, those inside collapsed rows included."""
    for panel in panels:
        yield panel
        yield from _panels(list(panel.get("panels") or []))


def queries(dashboard: Dashboard) -> list[PanelQuery]:
    """Every Prometheus query of every panel (rows hold none)."""
    found = []
    for panel in _panels(list(dashboard.model["panels"])):
        for target in panel.get("targets") or []:
            expr = str(target.get("expr") or "").strip()
            if expr and not target.get("hide"):
                found.append(PanelQuery(dashboard.title, str(panel.get("title") or "untitled"),
                                        str(target.get("refId") or "A"), expr))
    return found


def variable_query(variable: Mapping[str, Any]) -> str:
    query = variable.get("query")
    if isinstance(query, Mapping):
        query = query.get("query")
    return str(query or variable.get("definition") or "")


def label_values_call(query: str) -> tuple[str | None, str] | None:
    """(series selector or None, label) of `label_values([selector,] label)`."""
    match = _LABEL_VALUES.match(query)
    return (match.group(1), match.group(2)) if match else None


def values(dashboard: Dashboard,
           label_values: Callable[[str | None, str], list[str]]) -> dict[str, str]:
    """A concrete value per template variable: a query variable's first value (sorted) as
    Prometheus answers `label_values`; a custom, constant or textbox variable's current value
    (else its first option); a data source variable its current value. A variable whose value
    cannot be had is one line naming it."""
    out: dict[str, str] = {}
    for variable in dashboard.variables():
        name = str(variable.get("name"))
        kind = variable.get("type")
        current = (variable.get("current") or {}).get("value")
        if kind == "query":
            call = label_values_call(render(variable_query(variable), out))
            if call is None:
                raise HarnessError(f"dashboard {dashboard.title}: variable {name}: only "
                                   "label_values(...) queries are rendered")
            got = sorted(label_values(*call))
            if not got:
                raise HarnessError(f"dashboard {dashboard.title}: variable {name}: "
                                   f"{variable_query(variable)} has no value")
            out[name] = got[0]
        elif current not in (None, "", [], "$__all"):
            out[name] = str(current[0] if isinstance(current, list) else current)
        elif variable.get("options"):
            out[name] = str(variable["options"][0].get("value"))
        else:
            raise HarnessError(f"dashboard {dashboard.title}: variable {name} has no value")
    return out


def render(expr: str, given: Mapping[str, str], interval: str = RATE_INTERVAL) -> str:
    """`expr` with Grafana's interval variables and the dashboard's variables replaced; a
    variable the dashboard does not define is left as written (Prometheus then refuses it)."""
    text = _BUILTIN.sub(interval, expr)

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return given.get(name, match.group(0))
    return _VARIABLE.sub(one, text)


def needed_services(expr: str) -> set[Service]:
    return {NEEDS[name] for name in judge.metric_names(expr) if name in NEEDS}
