"""The plan findings: sequential scans over large tables, in a query plan under RLS
(soberharness.runner.plans asks PostgreSQL for it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

# Tables that grow with the user base: scanning one of them whole is a finding.
LARGE_TABLES: frozenset[str] = frozenset(
    {"public.posts", "public.likes", "public.follows", "public.comments", "public.videos"}
)


@dataclasses.dataclass(frozen=True)
class PlanFinding:
    query: str  # the app query's name
    table: str  # schema.table
    node: str  # plan node type, e.g. "Seq Scan"
    detail: str  # filter of the node, if any

    def line(self) -> str:
        where = f" (filter: {self.detail})" if self.detail else ""
        return f"{self.query}: {self.node} on {self.table}{where}"


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def summary(plan: dict[str, Any]) -> list[str]:
    """One line per plan node that touches a relation, index or function, in plan order."""
    out = []
    for node in nodes(plan):
        relation = node.get("Relation Name") or node.get("Function Name")
        index = node.get("Index Name")
        if relation or index:
            schema = node.get("Schema", "")
            rel = f"{schema}.{relation}" if relation and schema else (relation or "")
            out.append(" ".join(p for p in (node["Node Type"], rel, index and f"[{index}]") if p))
    return out


def seq_scan_findings(query: str, plan: dict[str, Any],
                      large: frozenset[str] = LARGE_TABLES) -> list[PlanFinding]:
    findings = []
    for node in nodes(plan):
        if node.get("Node Type") != "Seq Scan":
            continue
        table = f"{node.get('Schema', 'public')}.{node.get('Relation Name')}"
        if table in large:
            findings.append(PlanFinding(query, table, "Seq Scan", str(node.get("Filter", ""))))
    return findings
