"""What the index of runs (reports/index.html) shows per run besides its verdict: the suites
it ran, the migrations it checked, and the trend over runs (verdicts, matrix mismatches, time
per suite), from each run's summary.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TREND_RUNS = 30  # the newest runs the trend plots


def suite_counts(doc: Mapping[str, Any]) -> dict[str, int]:
    """Tests per suite in the run."""
    counts: dict[str, int] = {}
    for case in (doc.get("tests") or {}).get("cases", []):
        suite = str(case.get("suite") or "?")
        counts[suite] = counts.get(suite, 0) + 1
    return counts


def suite_seconds(doc: Mapping[str, Any]) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for case in (doc.get("tests") or {}).get("cases", []):
        suite = str(case.get("suite") or "?")
        seconds[suite] = seconds.get(suite, 0.0) + float(case.get("duration") or 0.0)
    return seconds


def migrations_text(doc: Mapping[str, Any]) -> str:
    """`<folder>: <n> (last <name>, digest <d>)`, or '-' when the run applied none."""
    found = ((doc.get("environment") or {}).get("migrations") or {})
    names = list(found.get("names") or [])
    folder = Path(str(doc.get("migrations") or "")).name
    if not names:
        return folder or "-"
    digest = f", digest {found['digest']}" if found.get("digest") else ""
    return f"{folder or 'migrations'}: {len(names)} (last {names[-1]}{digest})"


def mismatches(doc: Mapping[str, Any]) -> int | None:
    """Matrix mismatches of the run; None when the matrix did not run."""
    matrix = doc.get("matrix") or {}
    return len(matrix.get("mismatches", [])) if matrix.get("cells_checked") else None


def trend_points(docs_newest_first: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The newest TREND_RUNS runs, oldest first, as the trend plot takes them."""
    chosen = list(docs_newest_first[:TREND_RUNS])[::-1]
    return [{"label": str(d.get("run_id")), "verdict": str(d.get("verdict")),
             "mismatches": mismatches(d), "suite_seconds": suite_seconds(d)} for d in chosen]
