"""Query plans under RLS, and the plan findings: sequential scans over large tables.

The plan is PostgreSQL's EXPLAIN (FORMAT JSON) of the very request, run the way PostgREST
runs it (same role, same claims), so policy predicates are in it. What it cannot show is the
inside of the SECURITY DEFINER helper functions a policy calls: their own scans are not
planned until they run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from psycopg import sql

from soberharness.clients.postgrest_sql import Request, RequestRunner
from soberharness.world.entities import Viewer

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


def explain(runner: RequestRunner, viewer: Viewer, request: Request) -> dict[str, Any]:
    """The plan of `request` as `viewer` would run it (no execution), as a JSON tree.

    VERBOSE, so that every scan node names its schema."""
    query = sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) {}").format(request.query)
    outcome = runner.run(viewer, dataclasses.replace(request, query=query))
    if not outcome.ok:
        raise RuntimeError(f"EXPLAIN failed: {outcome.error}")
    value = outcome.rows[0][0]
    document = json.loads(value) if isinstance(value, str) else value
    return document[0]["Plan"]


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
