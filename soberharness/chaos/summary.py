"""What a chaos run leaves under reports/chaos/: per experiment its journal, summary and ledger,
and one summary.md over every experiment run so far (faults, recovery times, ledger counts)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

from soberharness.targets.migrations import REPO

REPORTS = Path(os.environ.get("SOBERHARNESS_CHAOS_REPORTS", str(REPO / "reports" / "chaos")))


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:100] or "experiment"


def write_run(
    name: str,
    stack: dict[str, Any] | None,
    records: list[Any],
    checks: list[Any],
    ledger: Any | None = None,
    journal: dict[str, Any] | None = None,
    status: str | None = None,
    folder: Path | None = None,
) -> Path:
    """Write <reports>/<name>/{summary.json, ledger.jsonl, journal.json} and refresh summary.md."""
    root = folder or REPORTS
    out = root / slug(name)
    out.mkdir(parents=True, exist_ok=True)
    last = checks[-1].to_json() if checks else None
    summary = {
        "experiment": name,
        "status": status,
        "stack": stack,
        "faults": [r if isinstance(r, dict) else dataclasses.asdict(r) for r in records],
        "ledger": last,
        "checks": len(checks),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if ledger is not None:
        ledger.save(out / "ledger.jsonl")
    if journal is not None:
        (out / "journal.json").write_text(json.dumps(journal, indent=2, default=str))
    write_index(root)
    return out


def write_index(root: Path) -> Path:
    """summary.md: one row per fault of every experiment folder under `root`."""
    lines = [
        "# Chaos runs",
        "",
        "Per fault: heal (e.g. the restart) and recovery (healed -> a signed-in user reads "
        "their own new post) in seconds; outcomes that came in while the fault was in force "
        "(ack/failed/unknown). Ledger columns: the whole run's writes as the final check "
        "classified them.",
        "",
        "| experiment | status | config | fault | heal s | recovery s | during fault a/f/u "
        "| ack | failed | unknown | lost ack | other violations |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(root.glob("*/summary.json")):
        data = json.loads(path.read_text())
        ledger = data.get("ledger") or {}
        outcomes = ledger.get("outcomes", {})
        bad = ledger.get("violation_counts", {})
        lost = bad.get("lost_acknowledged", "-")
        other = sum(v for k, v in bad.items() if k != "lost_acknowledged") if bad else "-"
        config = (data.get("stack") or {}).get("config", "-")
        faults = data.get("faults") or [{}]
        for fault in faults:
            lines.append(
                f"| {data['experiment']} | {data.get('status') or '-'} | {config} "
                f"| {fault.get('fault', '-')} | {_num(fault.get('heal_seconds'))} "
                f"| {_num(fault.get('recovery_seconds'))} | {_during(fault.get('during'))} "
                f"| {outcomes.get('acknowledged', '-')} "
                f"| {outcomes.get('failed', '-')} | {outcomes.get('unknown', '-')} | {lost} "
                f"| {other} |"
            )
    index = root / "summary.md"
    index.write_text("\n".join(lines) + "\n")
    return index


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _during(counts: dict[str, int] | None) -> str:
    if not counts:
        return "-"
    return f"{counts.get('acknowledged', 0)}/{counts.get('failed', 0)}/{counts.get('unknown', 0)}"
