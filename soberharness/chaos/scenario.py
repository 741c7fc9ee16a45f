"""One fault under a write workload, end to end: write, inject, hold, heal, measure recovery,
write a little more, stop, read back, check. What the pytest suites and crash_rounds share."""

from __future__ import annotations

import dataclasses
import time

from soberharness.chaos.checker import CheckResult, check
from soberharness.chaos.faults import Fault
from soberharness.chaos.ledger import Ledger, LedgerWorkload, Outcome
from soberharness.chaos.stack import ChaosStack


@dataclasses.dataclass
class FaultRun:
    fault: str
    result: CheckResult
    ledger: Ledger
    heal_seconds: float  # heal() itself (a restart, for a crash)
    recovery_seconds: float  # heal returned -> steady state back
    healed_at: float  # time.time() when heal returned
    injected_at: float = 0.0  # time.time() when inject was called

    def acknowledged_after_heal(self) -> int:
        """Writes acknowledged that began after the heal: the clients came back by themselves."""
        return sum(
            1 for w in self.ledger.writes
            if w.outcome is Outcome.ACKNOWLEDGED and w.started >= self.healed_at
        )

    def disturbed(self) -> int:
        """Writes that did not get an acknowledgement (failed or unknown)."""
        return self.result.outcomes["failed"] + self.result.outcomes["unknown"]

    def record(self) -> dict[str, object]:
        """The fault's row for the chaos summary."""
        return {
            "fault": self.fault,
            "heal_seconds": self.heal_seconds,
            "recovery_seconds": self.recovery_seconds,
            "acknowledged_after_heal": self.acknowledged_after_heal(),
            "during": self.ledger.counts_between(self.injected_at, self.healed_at),
        }

    def one_line(self) -> str:
        return (f"{self.fault}: heal {self.heal_seconds:.3f}s, recovery "
                f"{self.recovery_seconds:.3f}s; {self.result.one_line()}")


def run_fault(
    stack: ChaosStack,
    fault: Fault,
    hold: float = 1.0,
    before: float = 1.0,
    after: float = 0.5,
    clients: int = 3,
    op_timeout: float = 2.0,
    ledger: Ledger | None = None,
) -> FaultRun:
    """Write for `before` s, inject, hold `hold` s, heal, wait for the steady state, write
    `after` s more, then check every write. The fault is healed and the writers stopped
    whatever happens."""
    ledger = ledger if ledger is not None else Ledger()
    workload = LedgerWorkload(stack.client_dsn, stack.authors, clients=clients,
                              op_timeout=op_timeout, ledger=ledger).start()
    try:
        time.sleep(before)
        injected_at = time.time()
        fault.inject()
        try:
            time.sleep(hold)
        finally:
            began = time.monotonic()
            fault.heal()
            heal_seconds = time.monotonic() - began
        healed_at = time.time()
        recovery = stack.wait_steady()
        time.sleep(after)
    finally:
        workload.stop()
    result = check(stack.admin_dsn, ledger, stack.authors)
    return FaultRun(fault.name, result, ledger, heal_seconds, recovery, healed_at, injected_at)
