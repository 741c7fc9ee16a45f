"""Reading what PostgREST exposes: its OpenAPI description per caller role and exposed schema,
and what the harness covers (the matrix's relations, the exposed-surface discovery), for
`checker.rest_surface` to compare."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from soberharness.checker.rest_surface import SurfaceEntry
from soberharness.clients.postgrest import PostgrestClient
from soberharness.db import sql as rows
from soberharness.errors import HarnessError
from soberharness.lints.exposed_catalog import discover
from soberharness.lints.exposed_surface import judge_for
from soberharness.workload.matrix_cases import cells
from soberharness.world.matrix_world import MatrixWorld

SCHEMA_NOT_EXPOSED = "PGRST106"


def descriptions(
    callers: Mapping[str, PostgrestClient], schemas: Sequence[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(role, schema) -> PostgREST's Swagger description as that caller sees it; a schema the
    server does not expose (406 PGRST106) is left out."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for role, client in callers.items():
        for schema in schemas:
            response = client.openapi(schema)
            error = response.error
            if error is not None and error.code == SCHEMA_NOT_EXPOSED:
                continue
            body = response.body
            if error is not None or not isinstance(body, dict) or "paths" not in body:
                raise HarnessError(
                    f"PostgREST's description of schema {schema} for {role}: answered "
                    f"{response.status} {error or 'without a Swagger document'}"
                )
            out[(role, schema)] = body
    return out


def matrix_relations(mw: MatrixWorld) -> set[str]:
    """The relations the access matrix has cases for, schema-qualified."""
    out: set[str] = set()
    for _cell, ctx, case in cells(mw):
        row = rows.row_of(case.build(ctx).target)
        out.add(f"{row.schema}.{row.table}")
    return out


def surface_entries(conn: psycopg.Connection, schemas: Sequence[str]) -> list[SurfaceEntry]:
    """The exposed-surface discovery, with whether its check judges each object."""
    return [SurfaceEntry(o.schema, o.name, o.kind, o.label, judge_for(o) is not None)
            for o in discover(conn, schemas)]
