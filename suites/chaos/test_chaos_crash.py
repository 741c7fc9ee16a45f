"""PostgreSQL crashed (SIGKILL) and frozen (SIGSTOP) under a write workload, checked by the ledger.

Durable configuration: no acknowledged write may be lost. Asynchronous commit: the ledger must
find the loss (the proof that the checker can fail).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from soberharness.chaos.faults import PostgresCrash, PostgresPause
from soberharness.chaos.ledger import Ledger, Outcome
from soberharness.chaos.scenario import FaultRun, run_fault
from soberharness.chaos.stack import ChaosStack
from soberharness.db import session as db_session

pytestmark = [pytest.mark.destructive, pytest.mark.needs("postgres")]

OP_TIMEOUT = 2.0
LOSSY_ROUNDS = 4
Report = Callable[[ChaosStack, list[FaultRun]], None]


def test_sigkill_and_restart_lose_no_acknowledged_write(
    fresh_clean: ChaosStack, chaos_report: Report
) -> None:
    run = run_fault(fresh_clean, PostgresCrash(fresh_clean.pg), hold=0.3, op_timeout=OP_TIMEOUT)
    chaos_report(fresh_clean, [run])
    print(run.one_line())
    assert run.result.lost == [], run.result.one_line()
    assert run.result.ok, run.result.one_line()
    assert run.result.outcomes["acknowledged"] > 0
    assert run.disturbed() > 0, "the crash broke no client's write: was it a crash?"
    assert run.acknowledged_after_heal() > 0, "the clients did not come back after the restart"
    rls = fresh_clean.rls_sample()
    assert rls.ok, rls.detail


def test_sigstop_past_the_client_timeout_loses_no_acknowledged_write(
    fresh_clean: ChaosStack, chaos_report: Report
) -> None:
    run = run_fault(fresh_clean, PostgresPause(fresh_clean.pg), hold=OP_TIMEOUT + 1.0,
                    op_timeout=OP_TIMEOUT)
    chaos_report(fresh_clean, [run])
    print(run.one_line())
    assert run.result.ok, run.result.one_line()
    assert run.disturbed() > 0, "no client timed out while the database was stopped"
    assert run.acknowledged_after_heal() > 0, "the clients did not come back after SIGCONT"
    rls = fresh_clean.rls_sample()
    assert rls.ok, rls.detail


def test_the_rls_sample_probe_fails_when_a_policy_is_gone(clean_stack: ChaosStack) -> None:
    """The steady-state RLS probe can fail: with RLS off on posts, hidden and private posts leak."""
    with db_session.connect(clean_stack.admin_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.posts DISABLE ROW LEVEL SECURITY")
        try:
            broken = clean_stack.rls_sample()
        finally:
            conn.execute("ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY")
    assert not broken.ok
    assert "posts" in broken.detail
    assert clean_stack.rls_sample().ok


def test_asynchronous_commit_crash_loses_acknowledged_writes_and_the_ledger_says_so(
    lossy_stack: ChaosStack, chaos_report: Report
) -> None:
    ledger = Ledger()
    runs = []
    for _ in range(LOSSY_ROUNDS):
        run = run_fault(lossy_stack, PostgresCrash(lossy_stack.pg), hold=0.2, before=1.5,
                        after=0.2, ledger=ledger)
        runs.append(run)
        print(run.one_line())
        if run.result.lost:
            break
    chaos_report(lossy_stack, runs)
    final = runs[-1].result
    assert final.lost, (
        f"no acknowledged write lost in {len(runs)} crashes with synchronous_commit=off: "
        f"{final.one_line()}"
    )
    acknowledged = {w.id for w in ledger.writes if w.outcome is Outcome.ACKNOWLEDGED}
    assert set(final.lost) <= acknowledged
    # nothing but loss: the lossy configuration neither duplicates nor invents writes
    assert final.violations["phantom"] == [] and final.violations["duplicated"] == []
