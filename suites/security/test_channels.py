"""Private Realtime channels, asked as Realtime Authorization asks the database: every actor
towards every owner of the matrix world, on the owner's live room and on a private topic the
stack does not use, receiving and sending broadcast and presence, against the rules of
docs/access-decisions.md ("Realtime channels"). A failure names the actor, the verb, the
extension and the topic."""

from __future__ import annotations

import pytest

from soberharness.checker.channels import findings
from soberharness.db import session as db_session
from soberharness.runner.channels import has_messages_table, run_channels
from soberharness.runner.matrix import MatrixRun
from soberharness.workload.channel_cases import channel_cells
from soberharness.world.matrix_world import MatrixWorld


@pytest.mark.needs("postgres")
def test_private_channels_admit_whom_the_rules_admit(
    matrix_run: MatrixRun, shared_or_fresh_database: str, matrix_world: MatrixWorld
) -> None:
    with db_session.connect(shared_or_fresh_database, connect_timeout=10) as conn:
        if not has_messages_table(conn):
            pytest.skip("realtime: the database has no realtime.messages (Realtime not run)")
    cells = channel_cells(matrix_world)
    found = findings(run_channels(shared_or_fresh_database, cells))
    assert not found, "\n".join(f.describe() for f in found)
