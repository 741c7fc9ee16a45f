"""Compare N run folders, one per target: every check's outcome on each target, differences first.

What is compared, and what a difference means:
- **matrix cells** (the database's allow/deny per cell), **tests** (each test's outcome: an
  auth flow, a storage or realtime check, a scenario), **lint findings**, and **routes**
  (status codes and response shapes per route, where the clients recorded them): the same
  check with another outcome on one target is a *behaviour* difference (exit 1). A check that
  ran on some targets and was skipped or absent on others is a *coverage* difference, listed
  but not judged.
- **latency** per table/operation of the matrix, per route of a load run (locust summaries)
  and per benchmark: each target's p50/p95
  against the fleet median; beyond `factor` (either way) it is a *performance* difference,
  never a behaviour difference.
- **environment** (targets.environment): listed per target, differing keys first, so that a
  difference can be explained; not judged.
Runs of other suites or another stack version (migration names) are not comparable (exit 2).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from soberharness.errors import Exit
from soberharness.parity.runs import Run, comparability_problems
from soberharness.report.run_folder import per_call_ms
from soberharness.report.run_report import percentile

SAME, BEHAVIOUR, COVERAGE = "same", "behaviour", "coverage"
ABSENT, SKIPPED = "absent", "skipped"
DEFAULT_FACTOR = 1.5
# Below this many ms apart, latencies are noise whatever their ratio.
LATENCY_FLOOR_MS = 1.0
_NEUTRAL = frozenset({ABSENT, SKIPPED})


@dataclasses.dataclass(frozen=True)
class Check:
    kind: str  # "matrix cell", "test (auth)", "lint", "route status", "route shape"
    name: str
    outcomes: Mapping[str, str]  # target label -> outcome

    @property
    def verdict(self) -> str:
        ran = {v for v in self.outcomes.values() if v not in _NEUTRAL}
        if len(ran) > 1:
            return BEHAVIOUR
        if ran and len(ran) < len(set(self.outcomes.values())):
            return COVERAGE
        return SAME


@dataclasses.dataclass(frozen=True)
class Latency:
    source: str  # "matrix", "route" (a load run's endpoint) or "benchmark"
    name: str
    p50: Mapping[str, float]  # target label -> ms
    p95: Mapping[str, float]
    fleet_p50: float
    fleet_p95: float
    outliers: Mapping[str, str]  # target label -> "slower 2.3x" / "faster 0.4x"


@dataclasses.dataclass(frozen=True)
class EnvRow:
    key: str
    values: Mapping[str, str]

    @property
    def differs(self) -> bool:
        return len(set(self.values.values())) > 1


@dataclasses.dataclass(frozen=True)
class ParityReport:
    labels: list[str]
    folders: list[str]
    not_comparable: list[str]
    checks: list[Check]
    latency: list[Latency]
    environment: list[EnvRow]
    factor: float

    def with_verdict(self, verdict: str) -> list[Check]:
        return [c for c in self.checks if c.verdict == verdict]

    @property
    def performance(self) -> list[Latency]:
        return [lat for lat in self.latency if lat.outliers]

    @property
    def exit_code(self) -> int:
        if self.not_comparable:
            return Exit.NOTHING_CHECKED
        return Exit.FOUND if self.with_verdict(BEHAVIOUR) else Exit.OK

    @property
    def verdict(self) -> str:
        return {Exit.OK: "identical behaviour", Exit.FOUND: "behaviour differs",
                Exit.NOTHING_CHECKED: "not comparable"}[Exit(self.exit_code)]

    def to_json(self) -> dict[str, Any]:
        def check_json(c: Check) -> dict[str, Any]:
            return {"kind": c.kind, "name": c.name, "verdict": c.verdict,
                    "outcomes": dict(c.outcomes)}

        ordered = sorted(self.checks, key=_check_order)
        return {
            "format": "soberharness.parity/1",
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "targets": dict(zip(self.labels, self.folders, strict=True)),
            "not_comparable": self.not_comparable,
            "counts": {v: len(self.with_verdict(v)) for v in (BEHAVIOUR, COVERAGE, SAME)}
            | {"performance": len(self.performance)},
            "checks": [check_json(c) for c in ordered if c.verdict != SAME],
            "same": len(self.with_verdict(SAME)),
            "latency": [dataclasses.asdict(lat) for lat in self.latency],
            "latency_factor": self.factor,
            "environment": [{"key": e.key, "differs": e.differs, "values": dict(e.values)}
                            for e in sorted(self.environment, key=lambda e: not e.differs)],
        }


def _check_order(c: Check) -> tuple[int, str, str]:
    return ({BEHAVIOUR: 0, COVERAGE: 1, SAME: 2}[c.verdict], c.kind, c.name)


def compare(runs: Sequence[Run], factor: float = DEFAULT_FACTOR) -> ParityReport:
    labels = [r.label for r in runs]
    checks = [*_matrix_checks(runs), *_test_checks(runs), *_lint_checks(runs),
              *_route_checks(runs)]
    return ParityReport(
        labels=labels,
        folders=[str(r.folder) for r in runs],
        not_comparable=comparability_problems(runs),
        checks=checks,
        latency=_latency(runs, factor),
        environment=_environment(runs),
        factor=factor,
    )


def _table(runs: Sequence[Run], kind: str,
           per_run: Iterable[Mapping[str, str]]) -> list[Check]:
    maps = list(per_run)
    names = sorted(set().union(*(m.keys() for m in maps)))
    return [Check(kind, name, {r.label: m.get(name, ABSENT) for r, m in zip(runs, maps,
                                                                             strict=True)})
            for name in names]


def _matrix_checks(runs: Sequence[Run]) -> list[Check]:
    per_run: list[dict[str, str]] = []
    for run in runs:
        matrix = run.doc.get("matrix") or {}
        outcomes = matrix.get("outcomes")
        if outcomes is None and matrix.get("cells_checked"):  # a run from before outcomes
            outcomes = {"(every cell, by digest)": str(matrix.get("outcomes_digest"))}
        per_run.append(dict(outcomes or {}))
    return _table(runs, "matrix cell", per_run)


def _test_outcome(outcome: str) -> str:
    if outcome in ("failed", "error", "xpassed"):
        return "failed"
    if outcome in ("skipped", "xfailed"):
        return SKIPPED
    return outcome


def _test_checks(runs: Sequence[Run]) -> list[Check]:
    suites: dict[str, str] = {}
    per_run = []
    for run in runs:
        outcomes = {}
        for case in run.cases:
            nodeid = str(case.get("nodeid"))
            outcomes[nodeid] = _test_outcome(str(case.get("outcome")))
            suites[nodeid] = str(case.get("suite"))
        per_run.append(outcomes)
    checks = _table(runs, "test", per_run)
    return [dataclasses.replace(c, kind=f"test ({suites.get(c.name, '?')})") for c in checks]


def _lint_checks(runs: Sequence[Run]) -> list[Check]:
    per_run = []
    for run in runs:
        lints = run.doc.get("lints") or {}
        per_run.append({f"{f.get('rule')} on {f.get('object')}": str(f.get("severity"))
                        for f in lints.get("findings") or []})
    checks = _table(runs, "lint", per_run)
    # A finding absent on a target is "none there", not "not checked", when the target ran lints.
    ran_lints = {r.label for r in runs if (r.doc.get("lints") or {}).get("rules")}
    return [dataclasses.replace(c, outcomes={k: "none" if v == ABSENT and k in ran_lints else v
                                             for k, v in c.outcomes.items()}) for c in checks]


def _route_checks(runs: Sequence[Run]) -> list[Check]:
    statuses, shapes = [], []
    for run in runs:
        routes = run.doc.get("routes") or {}
        statuses.append({k: ",".join(map(str, v.get("statuses") or [])) for k, v in
                         routes.items()})
        shapes.append({f"{k} -> {status}": json.dumps(shape, sort_keys=True)
                       for k, v in routes.items() for status, shape in
                       (v.get("shapes") or {}).items()})
    return [*_table(runs, "route status", statuses), *_table(runs, "route shape", shapes)]


def _bands(run: Run) -> dict[tuple[str, str], tuple[float, float]]:
    bands: dict[tuple[str, str], tuple[float, float]] = {}
    for name, band in ((run.doc.get("matrix") or {}).get("latency_ms") or {}).items():
        bands[("matrix", name)] = (float(band["p50"]), float(band["p95"]))
    for doc in run.doc.get("load") or []:  # locust runs of this session: per route
        if not doc.get("this_run"):
            continue
        for endpoint in doc.get("endpoints") or []:
            pct = endpoint.get("percentiles_ms") or {}
            if endpoint.get("requests") and "p50" in pct and "p95" in pct:
                route = f"{doc.get('run')}: {endpoint.get('method')} {endpoint.get('name')}"
                bands[("route", route.strip())] = (float(pct["p50"]), float(pct["p95"]))
    bench_file = run.folder / "benchmarks.json"
    if bench_file.exists():
        try:
            rounds = per_call_ms(json.loads(bench_file.read_text()))
        except (OSError, ValueError, KeyError):
            rounds = {}
        for name, values in rounds.items():
            bands[("benchmark", name)] = (percentile(values, 50), percentile(values, 95))
    return bands


def _latency(runs: Sequence[Run], factor: float) -> list[Latency]:
    per_run = {r.label: _bands(r) for r in runs}
    keys = sorted(set().union(*(b.keys() for b in per_run.values())))
    out = []
    for key in keys:
        present = {label: b[key] for label, b in per_run.items() if key in b}
        if len(present) < 2:
            continue
        fleet50 = statistics.median(v[0] for v in present.values())
        fleet95 = statistics.median(v[1] for v in present.values())
        outliers = {}
        for label, (p50, p95) in present.items():
            ratio = max((_ratio(p50, fleet50), _ratio(p95, fleet95)),
                        key=lambda r: max(r, 1 / r) if r else 0)
            apart = max(abs(p50 - fleet50), abs(p95 - fleet95))
            if apart >= LATENCY_FLOOR_MS and (ratio > factor or ratio < 1 / factor):
                outliers[label] = f"{'slower' if ratio > 1 else 'faster'} {ratio:.2f}x"
        out.append(Latency(key[0], key[1], {k: round(v[0], 3) for k, v in present.items()},
                           {k: round(v[1], 3) for k, v in present.items()},
                           round(fleet50, 3), round(fleet95, 3), outliers))
    return out


def _ratio(value: float, reference: float) -> float:
    if reference <= 0:
        return 1.0 if value <= 0 else float("inf")
    return value / reference


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list):
        return {prefix: ", ".join(str(v) for v in value)}
    return {prefix: "-" if value is None else str(value)}


def _environment(runs: Sequence[Run]) -> list[EnvRow]:
    flat = {r.label: flatten(r.environment) for r in runs}
    keys = sorted(set().union(*(f.keys() for f in flat.values())))
    return [EnvRow(key, {label: f.get(key, ABSENT) for label, f in flat.items()})
            for key in keys]
