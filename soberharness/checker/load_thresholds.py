"""Pass/fail rules for a load run and the JSON summary it leaves for the run report.

Pure: stats come in as plain `EndpointStats` values (`from_entries` reads anything shaped like
locust's StatsEntry without importing locust, which monkey-patches the process on import).
The summary is written to `reports/load/<run>.json`; `read_summaries` collects them for the
run report.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

SUMMARY_FORMAT = "soberharness.load/1"
PERCENTILES = (0.5, 0.95, 0.99)


@dataclasses.dataclass(frozen=True)
class EndpointStats:
    """What one endpoint (or the total) did during a run; times in milliseconds."""

    name: str
    method: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float = 0.0
    avg_ms: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}".strip()


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Limits a run must stay within. `per_endpoint` also applies the latency limits to every
    endpoint, not only to the total; `required` names endpoints that must have requests."""

    max_error_rate: float = 0.01
    max_p95_ms: float = 500.0
    max_p99_ms: float = 1500.0
    min_requests: int = 1
    per_endpoint: bool = False
    required: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"required": list(self.required)}


@dataclasses.dataclass(frozen=True)
class Verdict:
    violations: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def evaluate(total: EndpointStats, endpoints: Sequence[EndpointStats],
             limits: Thresholds) -> Verdict:
    """Every limit the run broke, one readable line each (empty: the run passed)."""
    found: list[str] = []
    if total.requests < limits.min_requests:
        found.append(f"only {total.requests} requests (at least {limits.min_requests} needed)")
    if total.error_rate > limits.max_error_rate:
        found.append(
            f"error rate {total.error_rate:.2%} > {limits.max_error_rate:.2%} "
            f"({total.failures}/{total.requests} failed)"
        )
    checked = [total, *endpoints] if limits.per_endpoint else [total]
    for stats in checked:
        if stats.requests == 0:
            continue
        where = "total" if stats is total else stats.label
        if stats.p95_ms > limits.max_p95_ms:
            found.append(f"{where}: p95 {stats.p95_ms:.0f} ms > {limits.max_p95_ms:.0f} ms")
        if stats.p99_ms > limits.max_p99_ms:
            found.append(f"{where}: p99 {stats.p99_ms:.0f} ms > {limits.max_p99_ms:.0f} ms")
    seen = {e.name: e.requests for e in endpoints}
    for name in limits.required:
        if not seen.get(name):
            found.append(f"no successful measurement of '{name}'")
    return Verdict(tuple(found))


class StatsEntryLike(Protocol):
    """The part of locust's StatsEntry this module reads."""

    name: str
    method: str | None
    num_requests: int
    num_failures: int
    max_response_time: float

    @property
    def avg_response_time(self) -> float: ...

    def get_response_time_percentile(self, percent: float) -> float: ...


def from_entry(entry: StatsEntryLike) -> EndpointStats:
    pct = entry.get_response_time_percentile
    empty = entry.num_requests == 0
    return EndpointStats(
        name=entry.name,
        method=entry.method or "",
        requests=entry.num_requests,
        failures=entry.num_failures,
        p50_ms=0.0 if empty else float(pct(0.5)),
        p95_ms=0.0 if empty else float(pct(0.95)),
        p99_ms=0.0 if empty else float(pct(0.99)),
        max_ms=float(entry.max_response_time or 0.0),
        avg_ms=float(entry.avg_response_time or 0.0),
    )


def from_entries(entries: Iterable[StatsEntryLike]) -> list[EndpointStats]:
    return sorted((from_entry(e) for e in entries), key=lambda s: (s.name, s.method))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of `values` (0 for none), for stats gathered outside locust."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def stats_of(name: str, method: str, timings_ms: Sequence[float], failures: int = 0
             ) -> EndpointStats:
    return EndpointStats(
        name=name,
        method=method,
        requests=len(timings_ms) + failures,
        failures=failures,
        p50_ms=percentile(timings_ms, 0.5),
        p95_ms=percentile(timings_ms, 0.95),
        p99_ms=percentile(timings_ms, 0.99),
        max_ms=max(timings_ms, default=0.0),
        avg_ms=sum(timings_ms) / len(timings_ms) if timings_ms else 0.0,
    )


def summary(run: str, total: EndpointStats, endpoints: Sequence[EndpointStats],
            limits: Thresholds, verdict: Verdict, meta: Mapping[str, Any] | None = None
            ) -> dict[str, Any]:
    """The JSON document a run leaves behind (no secrets: keys never reach this function)."""

    def row(s: EndpointStats) -> dict[str, Any]:
        return {
            "name": s.name,
            "method": s.method,
            "requests": s.requests,
            "failures": s.failures,
            "error_rate": round(s.error_rate, 6),
            "percentiles_ms": {"p50": s.p50_ms, "p95": s.p95_ms, "p99": s.p99_ms},
            "max_ms": s.max_ms,
            "avg_ms": round(s.avg_ms, 3),
        }

    return {
        "format": SUMMARY_FORMAT,
        "run": run,
        "meta": dict(meta or {}),
        "passed": verdict.passed,
        "violations": list(verdict.violations),
        "thresholds": limits.as_dict(),
        "total": row(total),
        "endpoints": [row(e) for e in endpoints],
    }


def write_summary(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def read_summaries(folder: Path) -> list[dict[str, Any]]:
    """Every load summary in `folder` (for the run report), oldest file first."""
    found = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("format") == SUMMARY_FORMAT:
            found.append(doc)
    return found
