"""Actions and probes for chaostoolkit experiments (Python provider: soberharness.chaos.actions).

chaostoolkit runs every activity of an experiment in one process, so the run's state (the stack,
the ledger, the faults in force, what was measured) lives here, in `RUN`. Each heal action
measures recovery: from the fault healed to the steady state back (a signed-in user's post read
back as PostgREST would), and records it for the summary under reports/chaos/.

Chaos is destructive: it runs only on the harness's own local stack, started here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Any

from soberharness.chaos import faults
from soberharness.chaos.checker import CheckResult, check
from soberharness.chaos.ledger import Ledger, LedgerWorkload
from soberharness.chaos.stack import PROXY_NAME, ChaosStack
from soberharness.errors import DestructiveRefused, HarnessError


@dataclasses.dataclass
class FaultRecord:
    fault: str
    injected_at: float
    inject_seconds: float
    heal_seconds: float | None = None  # how long healing took (a restart, for a crash)
    recovery_seconds: float | None = None  # heal returned -> steady state back
    during: dict[str, int] | None = None  # outcomes that came in between inject and heal


@dataclasses.dataclass
class ChaosRun:
    stack: ChaosStack | None = None
    workload: LedgerWorkload | None = None
    ledger: Ledger = dataclasses.field(default_factory=Ledger)
    active: dict[str, faults.Fault] = dataclasses.field(default_factory=dict)
    records: list[FaultRecord] = dataclasses.field(default_factory=list)
    checks: list[CheckResult] = dataclasses.field(default_factory=list)
    open_records: dict[str, FaultRecord] = dataclasses.field(default_factory=dict)
    ledger_started: bool = False


RUN = ChaosRun()


def _stack() -> ChaosStack:
    if RUN.stack is None:
        raise HarnessError("no chaos stack is running: start_local_stack first")
    return RUN.stack


def _guard_target() -> None:
    wanted = os.environ.get("SOBERHARNESS_TARGET", "local")
    if wanted != "local":
        raise DestructiveRefused(
            f"chaos experiments run only on the local target (SOBERHARNESS_TARGET={wanted})"
        )


# -- stack ----------------------------------------------------------------------------------------
def start_local_stack(config: str = "clean", toxiproxy: bool = False, writers: int = 3,
                      small_disk: bool = False) -> dict[str, Any]:
    """Start a private PostgreSQL (config 'clean' or 'lossy'), SoberTube migrated, users seeded;
    optionally behind Toxiproxy, optionally with the posts table on a small disk."""
    _guard_target()
    stop_local_stack()
    global RUN
    RUN = ChaosRun()
    RUN.stack = ChaosStack(config, toxiproxy=toxiproxy, writers=writers,
                           small_disk=small_disk).start()
    return RUN.stack.describe()


def stop_local_stack() -> None:
    """Heal what is still injected, stop the ledger and the stack. Safe to call twice."""
    heal_all()
    if RUN.workload is not None:
        RUN.workload.stop()
        RUN.workload = None
    if RUN.stack is not None:
        RUN.stack.stop()
        RUN.stack = None


# -- ledger ---------------------------------------------------------------------------------------
def start_ledger(clients: int = 3, op_timeout: float = 2.0) -> dict[str, Any]:
    """Start the concurrent writers (each write a post; outcomes go into the run's ledger)."""
    stack = _stack()
    if RUN.workload is not None and RUN.workload.running:
        return {"already_running": True}
    RUN.ledger_started = True
    RUN.workload = LedgerWorkload(stack.client_dsn, stack.authors, clients=clients,
                                  op_timeout=op_timeout, ledger=RUN.ledger).start()
    return {"clients": clients, "op_timeout": op_timeout}


def stop_ledger() -> dict[str, int]:
    """Stop the writers once each has an outcome for its write in flight; counts per outcome."""
    if RUN.workload is not None:
        RUN.workload.stop()
        RUN.workload = None
    return RUN.ledger.counts()


def check_ledger() -> dict[str, Any]:
    """Stop the writers, read everything back, classify every write (kept for the summary)."""
    stop_ledger()
    stack = _stack()
    result = check(stack.admin_dsn, RUN.ledger, stack.authors)
    RUN.checks.append(result)
    return result.to_json()


# -- faults ---------------------------------------------------------------------------------------
def _inject(fault: faults.Fault) -> dict[str, Any]:
    if fault.name in RUN.active:
        raise HarnessError(f"fault '{fault.name}' is already injected")
    record = FaultRecord(fault.name, time.time(), 0.0)
    # Registered before inject(): a fault that half-happened is still healed by the rollback.
    RUN.active[fault.name] = fault
    RUN.records.append(record)
    RUN.open_records[fault.name] = record
    began = time.monotonic()
    fault.inject()
    record.inject_seconds = time.monotonic() - began
    return {"fault": fault.name, "inject_seconds": round(record.inject_seconds, 3)}


def _heal(name: str, recovery_timeout: float = 60.0) -> dict[str, Any]:
    fault = RUN.active.pop(name, None)
    if fault is None:
        return {"fault": name, "healed": False, "reason": "not injected"}
    record = RUN.open_records.pop(name)
    began = time.monotonic()
    fault.heal()
    record.heal_seconds = time.monotonic() - began
    record.during = RUN.ledger.counts_between(record.injected_at, time.time())
    record.recovery_seconds = _stack().wait_steady(recovery_timeout)
    return {"fault": name, "healed": True, **_rounded(dataclasses.asdict(record))}


def _rounded(data: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in data.items()}


def kill_postgres() -> dict[str, Any]:
    """SIGKILL every PostgreSQL process (heal with restart_postgres)."""
    return _inject(faults.PostgresCrash(_stack().pg))


def restart_postgres() -> dict[str, Any]:
    """Restart PostgreSQL after kill_postgres; measures recovery."""
    return _heal(faults.PostgresCrash.name)


def pause_postgres() -> dict[str, Any]:
    """SIGSTOP every PostgreSQL process (heal with resume_postgres)."""
    return _inject(faults.PostgresPause(_stack().pg))


def resume_postgres() -> dict[str, Any]:
    """SIGCONT after pause_postgres; measures recovery."""
    return _heal(faults.PostgresPause.name)


def fill_disk() -> dict[str, Any]:
    """Fill the small disk holding the posts table (heal with free_disk)."""
    stack = _stack()
    if stack.disk is None:
        raise HarnessError("this experiment's stack has no small disk (small_disk: true)")
    return _inject(faults.DiskFull(stack.disk))


def free_disk() -> dict[str, Any]:
    """Remove the filler from the small disk; measures recovery."""
    return _heal(faults.DiskFull.name)


def _toxiproxy() -> Any:
    stack = _stack()
    if stack.toxiproxy is None:
        raise HarnessError("this experiment's stack runs without Toxiproxy (toxiproxy: true)")
    return stack.toxiproxy.client


def add_latency(ms: int = 300, jitter_ms: int = 200) -> dict[str, Any]:
    """Toxiproxy latency with jitter on the database's replies."""
    return _inject(faults.latency(_toxiproxy(), PROXY_NAME, ms, jitter_ms))


def limit_bandwidth(kilobytes_per_second: int = 1) -> dict[str, Any]:
    """Toxiproxy bandwidth limit on the database's replies."""
    return _inject(faults.bandwidth(_toxiproxy(), PROXY_NAME, kilobytes_per_second))


def reset_connections(after_ms: int = 0) -> dict[str, Any]:
    """Toxiproxy reset_peer: connections are reset (TCP RST) after `after_ms`."""
    return _inject(faults.reset_peer(_toxiproxy(), PROXY_NAME, after_ms))


def partition_database() -> dict[str, Any]:
    """Toxiproxy proxy disabled: clients cut off from the database."""
    return _inject(faults.Partition(_toxiproxy(), PROXY_NAME))


def heal_network() -> list[dict[str, Any]]:
    """Remove every Toxiproxy fault in force; measures recovery for each."""
    names = [n for n in RUN.active if n.startswith("toxiproxy-")]
    return [_heal(n) for n in names]


def heal_all() -> list[dict[str, Any]]:
    """Rollback: heal every fault still in force (never raises; reports what it could not heal)."""
    results: list[dict[str, Any]] = []
    for name in list(RUN.active):
        try:
            results.append(_heal(name))
        except Exception as exc:  # a rollback must try every fault
            RUN.active.pop(name, None)
            results.append({"fault": name, "healed": False, "reason": str(exc)})
    return results


def crash_rounds(rounds: int = 3, write_seconds: float = 1.5, stop_when_lost: bool = True,
                 clients: int = 3) -> dict[str, Any]:
    """Up to `rounds` of: write for `write_seconds`, SIGKILL, restart, check the ledger.

    With stop_when_lost it ends at the first round that lost an acknowledged write (a lossy
    configuration need not lose one in every crash; this bounds the search).
    """
    summary: list[dict[str, Any]] = []
    for number in range(1, rounds + 1):
        start_ledger(clients=clients)
        time.sleep(write_seconds)
        kill_postgres()
        healed = restart_postgres()
        time.sleep(0.3)
        result = check_ledger()
        summary.append({"round": number, "recovery": healed, "ledger": result["classes"],
                        "lost": result["violation_counts"]["lost_acknowledged"]})
        if stop_when_lost and summary[-1]["lost"]:
            break
    return {"rounds": summary}


# -- probes ---------------------------------------------------------------------------------------
def postgres_healthy() -> bool:
    """The database answers on the clients' path."""
    with contextlib.suppress(HarnessError):
        return _stack().health().ok
    return False


def read_your_write() -> bool:
    """A signed-in user posts and reads the post back (as PostgREST would run both)."""
    with contextlib.suppress(HarnessError):
        return _stack().read_your_write().ok
    return False


def rls_sample_holds() -> bool:
    """A sample of the access matrix (every table, actor and privacy level) matches the model."""
    with contextlib.suppress(HarnessError):
        return _stack().rls_sample().ok
    return False


def ledger_ok() -> bool:
    """No acknowledged write lost or duplicated, no failed write present, no phantom write.

    Checks the ledger as it stands (stopping the writers). Before any writer started (the
    steady state before the method) there is nothing to break and it holds.
    """
    if not RUN.ledger_started:
        return True
    return bool(check_ledger()["ok"])


def lost_acknowledged_writes() -> int:
    """How many acknowledged writes the last check found missing (checks now if never checked)."""
    if not RUN.checks:
        check_ledger()
    return len(RUN.checks[-1].lost)
