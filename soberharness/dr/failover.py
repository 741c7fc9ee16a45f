"""The failover drill: a primary with streaming standbys, ledger writers on the primary, the
primary SIGKILLed mid-load, the most advanced standby promoted, the clients switched to it.

- `sync`: two standbys, synchronous_commit=on and synchronous_standby_names='ANY 1 (s1, s2)'.
  Standby s1 is made to lag (its WAL sender on the primary frozen) before the kill, so a
  drill that promoted the wrong standby would lose writes: none acknowledged may be lost.
- `async`: one standby, asynchronous, made to lag the same way: the negative control, which
  must show the acknowledged writes a failover to a lagging asynchronous standby loses.

The old primary must not come back as a second writer: the runbook rewinds it with pg_rewind
and starts it as a standby of the new primary, where it refuses writes. With `unsafe_return`
it is started as it was (a planted split brain), which the split-brain check must report.

The steps are RUNBOOK (docs/runbooks/failover.md holds the same commands).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from soberharness.chaos.checker import CheckResult, check
from soberharness.chaos.faults import PostgresCrash
from soberharness.chaos.ledger import Ledger, LedgerWorkload, Outcome
from soberharness.dr import cluster, matrix_digest
from soberharness.dr.stack import DrillStack
from soberharness.dr.steps import Step, StepLog
from soberharness.errors import HarnessError
from soberharness.records.progress import Progress
from soberharness.targets.migrations import REPO
from soberharness.targets.postgres import SUPERUSER, PostgresServer

RUNBOOK_PATH = REPO / "docs" / "runbooks" / "failover.md"
RUNBOOK: list[Step] = [
    Step("Confirm the primary is down", "pg_isready -h 127.0.0.1 -p {primary_port} -t 2"),
    Step("Find the most advanced standby",
         "psql -X \"{standby_dsn}\" -At -c \"SELECT pg_last_wal_receive_lsn()\""),
    Step("Promote it", "psql -X \"{new_primary_dsn}\" -At -c \"SELECT pg_promote(true, 60)\""),
    Step("Rewind the old primary before it returns",
         "pg_rewind --target-pgdata={old_data} "
         "\"--source-server=host=127.0.0.1 port={new_primary_port} user=" + SUPERUSER
         + " dbname=postgres\""),
    Step("Mark the old primary as a standby", "touch {old_data}/standby.signal"),
    Step("Start the old primary as a standby of the new one",
         "postgres -D {old_data} -p {old_port} "
         "\"-c primary_conninfo=host=127.0.0.1 port={new_primary_port} user=" + SUPERUSER
         + " application_name=old_primary\""),
    Step("Confirm the old primary refuses writes",
         "psql -X \"{old_dsn}\" -At -c \"SELECT pg_is_in_recovery()\""),
]
STEP = {s.key: s for s in RUNBOOK}
UNSAFE_STEPS = 3  # the unsafe return starts the old primary as it was: no rewind steps
SYNC_NAMES = "ANY 1 (s1, s2)"


@dataclasses.dataclass
class FailoverTimings:
    before: float = 1.0  # writes with every standby streaming
    lag: float = 1.0  # writes while standby s1 lags (its WAL sender frozen)
    after: float = 1.0  # writes on the new primary
    clients: int = 3
    pause: float = 0.01  # each client's pause between writes


@dataclasses.dataclass
class FailoverResult:
    mode: str
    check: CheckResult
    lag_before_kill: list[cluster.ReplicaState]
    promoted: str
    promote_seconds: float  # pg_promote sent -> out of recovery
    writes_back_seconds: float | None  # kill -> first write acknowledged by the new primary
    # (the first acknowledged write begun after the clients were switched to it)
    rpo_seconds: float  # kill minus the oldest lost acknowledged write (0: none lost)
    old_primary: str  # "rewound" / "unsafe"
    split_brain: cluster.SplitBrainVerdict
    digest_before: str | None  # None: not compared (only deep runs compare the full matrix)
    digest_after: str | None
    steps: list[dict[str, object]]
    ledger: Ledger
    killed_at: float

    @property
    def lost(self) -> int:
        return len(self.check.lost)

    def figures(self) -> dict[str, Any]:
        worst = max((s.lag_bytes for s in self.lag_before_kill), default=0)
        return {
            "lost_acknowledged": self.lost,
            "rpo_seconds": round(self.rpo_seconds, 3),
            "rto_seconds": None if self.writes_back_seconds is None
            else round(self.writes_back_seconds, 3),
            "promote_seconds": round(self.promote_seconds, 3),
            "max_lag_bytes_before_kill": worst,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "drill": f"failover-{self.mode}",
            "mode": self.mode,
            "figures": self.figures(),
            "lag_before_kill": [s.to_json() for s in self.lag_before_kill],
            "promoted": self.promoted,
            "ledger": self.check.to_json(),
            "old_primary": self.old_primary,
            "split_brain": self.split_brain.to_json(),
            "matrix": None if self.digest_before is None else {
                "digest_before": self.digest_before, "digest_after": self.digest_after,
                "equal": self.digest_before == self.digest_after},
            "steps": self.steps,
        }

    def one_line(self) -> str:
        f = self.figures()
        lag = ", ".join(f"{s.name} {s.lag_bytes} B" for s in self.lag_before_kill)
        return (f"failover-{self.mode}: lag before kill [{lag}], promoted {self.promoted} in "
                f"{f['promote_seconds']:.2f}s, writes back after {f['rto_seconds']}s, "
                f"{self.lost} acknowledged lost (RPO {f['rpo_seconds']:.3f}s); "
                f"{self.split_brain.one_line()}")


def failover_stack(mode: str, writers: int = 3) -> DrillStack:
    if mode not in ("sync", "async"):
        raise HarnessError(f"unknown failover mode '{mode}': sync or async")
    stack = DrillStack(f"failover-{mode}", settings=dict(cluster.REPLICATED), writers=writers)
    stack.pg.init()
    cluster.persist_settings(stack.pg, cluster.REWINDABLE)
    return stack


def start_standbys(stack: DrillStack, mode: str) -> list[str]:
    names = ["s1", "s2"] if mode == "sync" else ["s1"]
    for name in names:
        stack.adopt(name, cluster.make_standby(stack.pg, stack.path(name), name))
    cluster.wait_streaming(stack.pg, names)
    if mode == "sync":
        cluster.set_synchronous(stack.pg, SYNC_NAMES)
        deadline = time.monotonic() + 10
        while {s.sync_state for s in cluster.replication(stack.pg)} != {"quorum"}:
            if time.monotonic() > deadline:
                raise HarnessError("standbys did not become synchronous (quorum) in 10s")
            time.sleep(0.05)
    return names


def run_failover(stack: DrillStack, mode: str, timings: FailoverTimings | None = None,
                 unsafe_return: bool = False, matrix: bool = False,
                 progress: Progress | None = None) -> FailoverResult:
    """The drill on a started stack (standbys started here). With `matrix`, the full access
    matrix's outcome digest is compared before and after the failover (deep runs).
    `progress` is told each runbook step as it begins (the unsafe return skips the last four)."""
    t = timings or FailoverTimings()
    log = StepLog({}, progress, UNSAFE_STEPS if unsafe_return else len(RUNBOOK))
    log.tell("starting the standbys")
    names = start_standbys(stack, mode)
    old = stack.pg
    log.values["primary_port"] = old.port
    if matrix:
        log.tell("matrix digest before the failover")
    digest_before = matrix_digest.of(stack.admin_dsn, stack.matrix)[1] if matrix else None
    log.tell("writes, then the primary killed")
    ledger = Ledger()
    workload = LedgerWorkload(stack.admin_dsn, stack.authors, clients=t.clients, ledger=ledger,
                              pause=t.pause)
    workload.start()
    try:
        time.sleep(t.before)
        with cluster.paused(cluster.wal_sender_pid(old, "s1")):
            time.sleep(t.lag)
            lag = cluster.replication(old)
            killed_at = time.time()
            PostgresCrash(old).inject()
        ran = log.run(STEP["confirm-the-primary-is-down"], check=False)
        if ran.ok:
            raise HarnessError(f"pg_isready says the killed primary answers: {ran.tail()}")
        position: dict[str, int] = {}
        for name in names:
            log.values["standby_dsn"] = stack.others[name].dsn()
            answer = log.run(STEP["find-the-most-advanced-standby"])
            position[name] = _lsn(answer.stdout.strip())
        chosen = max(names, key=lambda n: position[n])
        new = stack.others[chosen]
        log.values.update(new_primary_dsn=new.dsn(), new_primary_port=new.port)
        began = time.monotonic()
        log.run(STEP["promote-it"])
        cluster.wait_promoted(new)
        promote_seconds = time.monotonic() - began
        stack.primary = new  # the target-level address switch: clients reconnect here
        workload.dsn = stack.admin_dsn
        switched_at = time.time()
        time.sleep(t.after)
    finally:
        workload.stop()
    log.tell("judging the ledger")
    result = check(stack.admin_dsn, ledger, stack.authors)
    back = [w.finished for w in ledger.writes
            if w.outcome is Outcome.ACKNOWLEDGED and w.started >= switched_at]
    lost_at = [w.finished for w in ledger.writes if w.id in set(result.lost)]
    digest_after = matrix_digest.of(stack.admin_dsn, stack.matrix)[1] if matrix else None
    servers = {"new_primary": new, "old_primary": old,
               **{n: stack.others[n] for n in names if n != chosen}}
    if unsafe_return:
        old.start()  # as it was: a second primary (the planted split brain)
        state = "unsafe"
    else:
        rewind_old_primary(log, old, new)
        state = "rewound"
    log.tell("split-brain check")
    verdict = cluster.split_brain(servers, stack.database, stack.prober.id)
    log.finish()
    return FailoverResult(
        mode=mode, check=result, lag_before_kill=lag, promoted=chosen,
        promote_seconds=promote_seconds,
        writes_back_seconds=(min(back) - killed_at) if back else None,
        rpo_seconds=max((killed_at - f for f in lost_at), default=0.0),
        old_primary=state, split_brain=verdict, digest_before=digest_before,
        digest_after=digest_after, steps=[r.to_json() for r in log.records], ledger=ledger,
        killed_at=killed_at,
    )


def rewind_old_primary(log: StepLog, old: PostgresServer, new: PostgresServer) -> None:
    log.values.update(old_data=old.data, old_port=old.port, old_dsn=old.dsn())
    log.run(STEP["rewind-the-old-primary-before-it-returns"], timeout=300)
    log.run(STEP["mark-the-old-primary-as-a-standby"])
    old.settings["primary_conninfo"] = cluster.conninfo_of(new, "old_primary")
    log.perform(STEP["start-the-old-primary-as-a-standby-of-the-new-one"],
                lambda: old.start(timeout=120))
    answer = log.run(STEP["confirm-the-old-primary-refuses-writes"])
    if answer.stdout.strip() != "t":
        raise HarnessError(f"the rewound old primary is not in recovery: {answer.stdout!r}")


def _lsn(text: str) -> int:
    """'0/3000148' -> an integer position; an empty answer (no WAL received) is -1."""
    if "/" not in text:
        return -1
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)
