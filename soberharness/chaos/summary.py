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
        "rpo": rpo(last, ledger),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if ledger is not None:
        ledger.save(out / "ledger.jsonl")
    if journal is not None:
        (out / "journal.json").write_text(json.dumps(journal, indent=2, default=str))
    write_index(root)
    return out


LOST = "lost_acknowledged"


def rpo(last_check: dict[str, Any] | None, ledger: Any | None) -> dict[str, Any] | None:
    """Recovery point: acknowledged writes the final check did not find, and the time span
    they were acknowledged in (0 s when nothing acknowledged was lost)."""
    if not last_check:
        return None
    lost_ids = set((last_check.get("violations") or {}).get(LOST, []))
    lost = int((last_check.get("violation_counts") or {}).get(LOST, len(lost_ids)))
    times = [w.finished for w in (ledger.writes if ledger is not None else [])
             if w.id in lost_ids]
    return {"lost_acknowledged": lost,
            "window_s": round(max(times) - min(times), 3) if len(times) > 1 else 0.0}


def end_lines(data: dict[str, Any]) -> list[str]:
    """What `chaos run` prints at its end: RTO per fault, RPO, and the ledger's counts."""
    lines = []
    for fault in data.get("faults") or []:
        heal, recovery = fault.get("heal_seconds"), fault.get("recovery_seconds")
        if heal is None and recovery is None:
            rto = "not measured (the service did not come back while watched)"
        else:
            rto = (f"{(heal or 0.0) + (recovery or 0.0):.3f} s (heal {_num(heal)} s + "
                   f"recovery {_num(recovery)} s)")
        lines.append(f"RTO {fault.get('fault', '?')}: {rto}")
    point = data.get("rpo")
    if point is None:
        lines.append("RPO: not measured (no ledger check ran)")
    else:
        lines.append(f"RPO: {point['lost_acknowledged']} acknowledged write(s) lost"
                     + (f", acknowledged within {point['window_s']:.3f} s"
                        if point["lost_acknowledged"] > 1 else ""))
    ledger = data.get("ledger") or {}
    if ledger:
        outcomes = ledger.get("outcomes") or {}
        bad = {k: v for k, v in (ledger.get("violation_counts") or {}).items() if v}
        lines.append(
            f"ledger: {ledger.get('writes', 0)} writes, acknowledged "
            f"{outcomes.get('acknowledged', 0)}, failed {outcomes.get('failed', 0)}, unknown "
            f"{outcomes.get('unknown', 0)}; violations: "
            + (", ".join(f"{k} {v}" for k, v in sorted(bad.items())) or "none"))
    return lines


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
