"""Query plans under RLS: PostgreSQL's EXPLAIN (FORMAT JSON) of the very request, run the way
PostgREST runs it (same role, same claims), so policy predicates are in it. What it cannot
show is the inside of the SECURITY DEFINER helper functions a policy calls: their own scans
are not planned until they run. The findings are soberharness.checker.plans.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from psycopg import sql

from soberharness.clients.postgrest_sql import Request, RequestRunner
from soberharness.world.entities import Viewer


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
