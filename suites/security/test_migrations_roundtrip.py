"""Every migration has a down step: all up, all down, all up again leaves the same schema,
and all down leaves the bootstrap as it was."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.lints.schema_snapshot import snapshot
from soberharness.targets.base import DatabaseProvisioning, lacks
from soberharness.targets.migrations import apply_down, apply_up, missing_down_steps


@pytest.mark.needs("postgres")
def test_up_down_up_round_trips(target) -> None:
    if not isinstance(target, DatabaseProvisioning):
        pytest.skip(lacks(target, DatabaseProvisioning))
    missing = missing_down_steps(target.migrations)
    if missing:
        pytest.skip(
            f"{len(missing)} migration(s) have no down step, so there is no round trip to "
            f"check: {', '.join(missing)} (down files are optional: NNNN_name.down.sql)"
        )
    name = target.empty_database("roundtrip")
    try:
        with db_session.connect(target.admin_dsn(name), autocommit=True) as conn:
            bare = snapshot(conn)
            apply_up(conn, target.migrations)
            first = snapshot(conn)
            apply_down(conn, target.migrations)
            after_down = snapshot(conn)
            apply_up(conn, target.migrations)
            second = snapshot(conn)
    finally:
        target.drop_database(name)
    assert first != bare, "the migrations changed nothing"
    assert after_down == bare, f"down left behind: {sorted(after_down ^ bare)[:10]}"
    assert second == first, f"second up differs: {sorted(second ^ first)[:10]}"
