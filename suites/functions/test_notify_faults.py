"""notify under concurrency and faults: concurrent drains, the worker SIGKILLed mid-batch and
the database SIGKILLed and restarted mid-batch; afterwards no notification is lost, doubled or
delivered across the rules, as the write ledger's checker judges it (soberharness/chaos/outbox.py).
The stack is one of the harness's own, beside the target (StackHost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.chaos.outbox import FAULTS, run_drill
from soberharness.chaos.stack import ChaosStack
from soberharness.report.run_report import RunReport
from soberharness.targets.base import StackHost, Target, lacks

pytestmark = [pytest.mark.needs("functions", "postgres"), pytest.mark.destructive]

SECRET = "outbox-faults-secret-0123456789-abcdefghijklmnopq"


def test_no_notification_lost_or_doubled_through_a_killed_worker_and_a_restarted_database(
    target: Target, tmp_path: Path, run_report: RunReport
) -> None:
    if not isinstance(target, StackHost):
        pytest.skip(lacks(target, StackHost))
    with ChaosStack("clean", writers=1, host=target) as stack:
        drill = run_drill(stack, SECRET, tmp_path / "worker")
    run_report.notes["notify outbox under faults"] = {
        "faults": drill.faults, "ledger": drill.result.one_line(), "drain calls": drill.drain_calls,
    }
    assert drill.faults == list(FAULTS)
    assert drill.result.ok, "\n".join(drill.lines)
    assert drill.result.classes["acknowledged_present"] > 0
    assert drill.result.classes["failed_absent"] > 0
