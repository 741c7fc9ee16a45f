"""The run page's disaster-recovery section: per drill (chaos summaries carrying "dr"), its
RPO and RTO and the figures behind them."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

# figure key -> column title, in the order shown
COLUMNS = {
    "rpo_seconds": "RPO s",
    "rto_seconds": "RTO s",
    "lost_acknowledged": "lost ack",
    "backup_seconds": "backup s",
    "backup_bytes": "backup size",
    "restore_seconds": "restore s",
    "promote_seconds": "promote s",
    "max_lag_bytes_before_kill": "lag before kill",
}


def dr_of(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the run document keeps of a chaos summary's drill results."""
    dr = summary.get("dr")
    if not isinstance(dr, Mapping):
        return None
    split = dr.get("split_brain") or {}
    return {
        "drill": dr.get("drill"),
        "figures": dict(dr.get("figures") or {}),
        "split_brain": split.get("split_brain"),
        "writable": split.get("writable"),
        "verify_clean": dr.get("verify_clean"),
        "corruption_detected": (dr.get("planted_corruption") or {}).get("detected"),
        "matrix_equal": (dr.get("matrix") or {}).get("equal"),
    }


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if "bytes" in key:
        return f"{int(value) / 1024:.0f} KiB"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _checks(dr: Mapping[str, Any]) -> str:
    parts = []
    if dr.get("matrix_equal") is not None:
        parts.append("matrix digest " + ("equal" if dr["matrix_equal"] else "DIFFERENT"))
    if dr.get("verify_clean") is not None:
        parts.append("verify " + ("clean" if dr["verify_clean"] else "ERROR"))
    if dr.get("corruption_detected") is not None:
        parts.append("planted corruption " + ("caught" if dr["corruption_detected"]
                                               else "MISSED"))
    if dr.get("split_brain") is not None:
        parts.append(("SPLIT BRAIN: " if dr["split_brain"] else "one writer: ")
                     + ", ".join(dr.get("writable") or []))
    return "; ".join(parts)


def section(chaos: list[Mapping[str, Any]]) -> list[str]:
    drills = [c for c in chaos if c.get("dr")]
    out = ["<h2 id='dr'>Disaster recovery</h2>"]
    if not drills:
        return [*out, "<p>No disaster-recovery drill in this run (suites/dr).</p>"]
    heads = ["drill", "status", "config", *COLUMNS.values(), "checks"]
    out.append("<table><tr>" + "".join(f"<th class='l'>{html.escape(h)}</th>" for h in heads)
               + "</tr>")
    for c in drills:
        dr = c["dr"]
        figures = dr.get("figures") or {}
        cells = [dr.get("drill") or c.get("experiment"), c.get("status") or "-",
                 c.get("config") or "-",
                 *(_cell(k, figures.get(k)) for k in COLUMNS), _checks(dr)]
        out.append("<tr>" + "".join(f"<td class='l'>{html.escape(str(v))}</td>" for v in cells)
                   + "</tr>")
    out.append("</table><p>RPO: data-loss window (PITR: the target time minus the oldest "
               "acknowledged write before it that is missing; failover: the kill minus the "
               "oldest lost acknowledged write; 0 when nothing is lost). RTO: PITR, restore "
               "started to the restored server open for writes; failover, kill to the first "
               "write the new primary acknowledged.</p>")
    return out
