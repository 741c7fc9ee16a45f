"""What one run found, collected as the suites go, written as JSON, Markdown and HTML."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from soberharness.clients import route_log
from soberharness.lints.declarations import failing
from soberharness.records.redact import redact
from soberharness.records.results import CellResult, LintFinding


@dataclasses.dataclass
class RunReport:
    """Everything a run wants to tell: the matrix, lints, properties, benchmarks."""

    target: str
    target_kind: str
    run_id: str = ""
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    migrations: str = ""
    started: float = dataclasses.field(default_factory=time.time)
    cells: list[CellResult] = dataclasses.field(default_factory=list)
    matrix_seconds: float = 0.0
    lints: list[LintFinding] = dataclasses.field(default_factory=list)
    lint_rules: list[str] = dataclasses.field(default_factory=list)
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)
    secrets: list[str] = dataclasses.field(default_factory=list)
    # What the target runs (targets.environment.probe_environment), for the parity report.
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def mismatches(self) -> list[CellResult]:
        return [c for c in self.cells if not c.ok]

    @property
    def lint_errors(self) -> list[LintFinding]:
        """Findings that fail the run: those nobody accepted (checker.declarations.failing)."""
        return failing(self.lints)

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "target": {"name": self.target, "kind": self.target_kind, "labels": self.labels},
            "migrations": self.migrations,
            "started": dt.datetime.fromtimestamp(self.started, dt.UTC).isoformat(
                timespec="seconds"),
            "duration_s": round(time.time() - self.started, 3),
            "matrix": {
                "cells_checked": len(self.cells),
                "outcomes_digest": self.outcomes_digest(),
                "mismatches": [_cell_json(c) for c in self.mismatches],
                "seconds": round(self.matrix_seconds, 3),
                "cells_per_second": round(len(self.cells) / self.matrix_seconds, 1)
                if self.matrix_seconds
                else None,
                # Per cell the database's verdict, and per table/operation the cells' latency:
                # what `python -m soberharness.parity` compares across targets.
                "outcomes": {r.cell.label(): "allow" if r.actual else "deny" for r in self.cells},
                "latency_ms": _latency_bands(self.cells),
            },
            "lints": {
                "rules": self.lint_rules,
                "findings": [dataclasses.asdict(f) for f in self.lints],
            },
            "tests": self.outcomes,
            "notes": self.notes,
            "environment": self.environment,
            "routes": route_log.snapshot(),
        }

    def outcomes_digest(self) -> str:
        """One hash of every cell's verdicts: equal digests mean equal matrices (parity)."""
        lines = sorted(
            f"{r.cell.label()}|{r.expected}|{r.actual}" for r in self.cells
        )
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def one_line(self) -> str:
        s = self.summary()
        m = s["matrix"]
        return (
            f"soberharness on {self.target}: {m['cells_checked']} cells checked, "
            f"{len(m['mismatches'])} mismatches, {len(self.lint_errors)} failing lint findings "
            f"({len(self.lints)} findings), {s['duration_s']:.1f}s"
        )

    def write(self, folder: Path) -> list[Path]:
        """Write summary.json, summary.md and (when cells were checked) matrix.html; return
        their paths."""
        from soberharness.report.html import render_html
        from soberharness.report.markdown import render_markdown

        folder.mkdir(parents=True, exist_ok=True)
        outputs = {
            "summary.json": json.dumps(self.summary(), indent=2, default=str),
            "summary.md": render_markdown(self),
        }
        if self.cells:  # a run without matrix cells (a replay) keeps the last matrix page
            outputs["matrix.html"] = render_html(self)
        paths = []
        for name, text in outputs.items():
            path = folder / name
            path.write_text(redact(text, self.secrets))
            paths.append(path)
        return paths


def _cell_json(result: CellResult) -> dict[str, Any]:
    c = result.cell
    return {
        "actor": c.actor,
        "table": c.table,
        "operation": c.op.value,
        "privacy": c.privacy,
        "case": c.case,
        "claims": c.token,  # the token variant (a key named "token" would be redacted)
        "expected": "allow" if result.expected else "deny",
        "actual": "allow" if result.actual else "deny",
        "detail": result.detail,
    }


def _latency_bands(cells: list[CellResult]) -> dict[str, dict[str, float]]:
    """`table operation` -> p50/p95 (ms) and count of its cells' request times."""
    by_slice: dict[str, list[float]] = {}
    for r in cells:
        by_slice.setdefault(f"{r.cell.table} {r.cell.op.value}", []).append(r.seconds * 1e3)
    return {name: {"p50": round(percentile(v, 50), 3), "p95": round(percentile(v, 95), 3),
                   "n": len(v)} for name, v in sorted(by_slice.items()) if any(v)}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)
