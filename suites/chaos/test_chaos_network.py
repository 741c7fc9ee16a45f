"""Network faults through Toxiproxy between the writers and PostgreSQL, checked by the ledger."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from soberharness.chaos import faults
from soberharness.chaos.scenario import FaultRun, run_fault
from soberharness.chaos.stack import PROXY_NAME, ChaosStack
from soberharness.target.services.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.destructive, pytest.mark.needs("postgres")]

FaultMaker = Callable[[ToxiproxyClient], faults.Fault]

# (fault, must it break some writes?) Latency and a bandwidth limit may only slow writes down.
NETWORK_FAULTS: dict[str, tuple[FaultMaker, bool]] = {
    "latency-jitter": (lambda c: faults.latency(c, PROXY_NAME, ms=300, jitter_ms=200), False),
    "bandwidth": (lambda c: faults.bandwidth(c, PROXY_NAME, kilobytes_per_second=1), False),
    "reset-peer": (lambda c: faults.reset_peer(c, PROXY_NAME, after_ms=0), True),
    "partition": (lambda c: faults.Partition(c, PROXY_NAME), True),
}


@pytest.mark.parametrize("name", list(NETWORK_FAULTS))
def test_network_fault_loses_no_acknowledged_write(
    fresh_proxied: ChaosStack, name: str, chaos_report: Callable[[ChaosStack, list[FaultRun]], None]
) -> None:
    make, breaks_writes = NETWORK_FAULTS[name]
    assert fresh_proxied.toxiproxy is not None
    fault = make(fresh_proxied.toxiproxy.client)
    run = run_fault(fresh_proxied, fault, hold=1.5, before=0.5, op_timeout=1.5)
    chaos_report(fresh_proxied, [run])
    print(run.one_line())
    assert run.result.ok, run.result.one_line()
    assert run.acknowledged_after_heal() > 0, f"the clients did not come back after {name}"
    assert fresh_proxied.toxiproxy.client.toxics(PROXY_NAME) == [], "a toxic outlived its heal"
    if breaks_writes:
        assert run.disturbed() > 0, f"{name} broke no client's write: was it injected?"
