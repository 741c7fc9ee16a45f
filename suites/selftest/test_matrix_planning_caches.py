"""What the matrix planner remembers changes nothing it renders: every cell's settings statement
and pairs are those `request_settings` renders for its actor, token and path afresh, and a
remembered literal is the one psycopg renders for that value and type."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest
from psycopg import sql

from soberharness.clients.postgrest_sql import request_setting_pairs, request_settings
from soberharness.db import claims as claims_module
from soberharness.db import sql as rows
from soberharness.runner.matrix import _Planner
from soberharness.workload.matrix_cases import cells
from soberharness.world.matrix_world import build_matrix_world


def test_every_cells_settings_are_rendered_as_for_that_cell_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # One clock for the planner and the fresh rendering (tokens carry iat and exp).
    monkeypatch.setattr(claims_module.time, "time", lambda: 1_796_000_000.0)
    mw = build_matrix_world()
    planner = _Planner(mw)
    seen = 0
    for cell, ctx, case in cells(mw):
        planned = planner.one(cell, ctx, case)
        parts = planner.parts[case.build(ctx)]
        claims = ctx.claims()
        fresh = request_settings(ctx.viewer, parts.method, parts.path, claims=claims)
        assert planned.statements[planned.setup_statements + 1] == fresh.as_bytes(None), cell
        assert planned.settings == tuple(request_setting_pairs(
            ctx.viewer, parts.method, parts.path, claims=claims)), cell
        seen += 1
    assert seen > 5000


def test_a_remembered_literal_is_psycopgs_for_that_value_and_type() -> None:
    utc, plus_one = datetime.UTC, datetime.timezone(datetime.timedelta(hours=1))
    values = [True, 1, 1.0, False, 0, "o'neil \\ é", uuid.UUID(int=7), None,
              datetime.date(2020, 1, 1), ["x", "y"], 0.0, -0.0, decimal.Decimal("1.0"),
              decimal.Decimal("1.00"), datetime.datetime(2020, 1, 1, 12, tzinfo=utc),
              datetime.datetime(2020, 1, 1, 13, tzinfo=plus_one)]
    for _ in range(2):  # the second time from memory
        for value in values:
            assert rows.literal(value) == sql.Literal(value).as_bytes(None).decode(), value
    assert rows.literal(True) != rows.literal(1)
    assert rows.literal(1) != rows.literal(1.0)
