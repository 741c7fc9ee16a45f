"""chaostoolkit actions and probes of the drills (Python provider: soberharness.dr.actions).

The drill's stack is a ChaosStack, put into the chaos module's run state, so the experiments
share the chaos steady-state hypothesis (soberharness.chaos.actions: the database answers, a
signed-in user reads their own new post, the access-matrix sample holds, the write ledger holds)
and its ledger; these add the drills and their verdicts.

Deeper runs: SOBERHARNESS_DR_DEEP=1 writes ten times as long with twice the clients, and the
failover drills also compare the full access matrix's digest before and after.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from soberharness.chaos import actions as chaos
from soberharness.chaos.actions import ChaosRun, FaultRecord
from soberharness.chaos.progress_file import progress_from_env
from soberharness.dr.backup import BackupRepo
from soberharness.dr.failover import FailoverResult, FailoverTimings, failover_stack, run_failover
from soberharness.dr.pitr import PitrResult, PitrTimings, pitr_stack, run_pitr
from soberharness.dr.stack import DrillStack
from soberharness.errors import HarnessError


@dataclasses.dataclass
class DrillRun:
    drill: str = ""
    attempted: bool = False  # a drill action began (and must leave a result)
    stack: DrillStack | None = None
    repo: BackupRepo | None = None
    pitr: PitrResult | None = None
    failover: FailoverResult | None = None

    def result_json(self) -> dict[str, Any] | None:
        result = self.pitr or self.failover
        return result.to_json() if result is not None else None


DRILL = DrillRun()


def _deep() -> tuple[float, int]:
    return (10.0, 2) if os.environ.get("SOBERHARNESS_DR_DEEP") == "1" else (1.0, 1)


def start_drill_stack(drill: str, mode: str = "sync") -> dict[str, Any]:
    """Start the drill's primary (pitr: archiving into an encrypted pgBackRest repository;
    failover: ready for streaming standbys, started by the drill)."""
    chaos._guard_target()
    stop_drill_stack()
    global DRILL
    DRILL = DrillRun(drill=drill if drill == "pitr" else f"failover-{mode}")
    if drill == "pitr":
        stack, DRILL.repo = pitr_stack()
    elif drill == "failover":
        stack = failover_stack(mode)
    else:
        raise HarnessError(f"unknown drill '{drill}': pitr or failover")
    if drill == "failover" and mode == "async":
        stack.label = "async-replication"  # a negative control: it must show a loss
    DRILL.stack = stack
    chaos.RUN = ChaosRun(stack=stack)
    stack.start()
    return stack.describe()


def stop_drill_stack() -> None:
    chaos.stop_local_stack()  # heals faults, stops the ledger and the stack
    if DRILL.stack is not None:
        DRILL.stack.stop()
        DRILL.stack = None


def _adopt_ledger(ledger: Any, record: FaultRecord) -> None:
    chaos.RUN.ledger = ledger
    chaos.RUN.ledger_started = True
    chaos.RUN.records.append(record)


def run_pitr_drill(before: float = 1.0, between: float = 1.0, after: float = 1.0,
                   clients: int = 3) -> dict[str, Any]:
    """Backup under load, restore point T, restore to T's time in a new data directory, judge."""
    if DRILL.stack is None or DRILL.repo is None:
        raise HarnessError("no PITR drill stack is running: start it with drill 'pitr'")
    DRILL.attempted = True
    scale, more = _deep()
    timings = PitrTimings(before * scale, between * scale, after * scale, clients * more)
    DRILL.pitr = result = run_pitr(DRILL.stack, DRILL.repo, timings,
                                   progress=progress_from_env())
    record = FaultRecord("restore-to-point-in-time", 0.0, 0.0, heal_seconds=result.restore_seconds,
                         recovery_seconds=result.rto_seconds)
    _adopt_ledger(result.ledger, record)
    return {k: v for k, v in result.to_json().items() if k != "steps"}


def run_failover_drill(mode: str = "sync", before: float = 1.0, lag: float = 1.0,
                       after: float = 1.0, clients: int = 3,
                       unsafe_return: bool = False) -> dict[str, Any]:
    """Standbys, writers, SIGKILL of the primary, promotion, clients switched, old primary back."""
    if DRILL.stack is None:
        raise HarnessError("no failover drill stack is running: start it with drill 'failover'")
    DRILL.attempted = True
    scale, more = _deep()
    timings = FailoverTimings(before * scale, lag * scale, after * scale, clients * more)
    DRILL.failover = result = run_failover(DRILL.stack, mode, timings,
                                           unsafe_return=unsafe_return, matrix=more > 1,
                                           progress=progress_from_env())
    record = FaultRecord("primary-sigkill-failover", result.killed_at, 0.0,
                         heal_seconds=result.promote_seconds,
                         recovery_seconds=result.writes_back_seconds)
    _adopt_ledger(result.ledger, record)
    return {k: v for k, v in result.to_json().items() if k != "steps"}


# -- probes ---------------------------------------------------------------------------------------
def drill_verdict_holds() -> bool:
    """Before the drill: nothing to judge; a drill that began and left no result fails. After
    it: PITR — the ledger cut at T holds, the
    matrix digests are equal, verify was clean and caught the planted corruption, the digest
    caught the planted loss of RLS; failover —
    no acknowledged write lost and exactly one server takes writes."""
    if DRILL.pitr is not None:
        p = DRILL.pitr
        return (p.cut.ok and p.digests_equal and p.verify_clean and p.corruption_detected
                and bool(p.planted_rls["detected"]))
    if DRILL.failover is not None:
        f = DRILL.failover
        return f.lost == 0 and not f.split_brain.split_brain
    return not DRILL.attempted


def drill_figures() -> dict[str, Any]:
    """RPO, RTO and the drill's other measurements."""
    result = DRILL.pitr or DRILL.failover
    return result.figures() if result is not None else {}
