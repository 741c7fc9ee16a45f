"""Fixtures of the chaos suite: chaos stacks of their own (durable and lossy).

Every stack here is the harness's own PostgreSQL, started for the module and stopped after it;
the tests are destructive and the plugin refuses them on targets that did not opt in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from soberharness.chaos import summary
from soberharness.chaos.scenario import FaultRun
from soberharness.chaos.stack import ChaosStack
from soberharness.pytest_plugin import TARGET_KEY


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The chaos suite breaks a stack of its own on this machine: it belongs to runs on the
    local target (the plugin already refuses destructive tests where they are not allowed).
    A hook, not a fixture: it must decide before the module's stack fixture starts anything."""
    if item.get_closest_marker("destructive") is None:
        return
    target = item.config.stash[TARGET_KEY].target
    if target.kind != "local":
        pytest.skip(f"chaos runs on the local target only; target '{target.name}' is "
                    f"{target.kind}")


@pytest.fixture(scope="module")
def clean_stack() -> Iterator[ChaosStack]:
    with ChaosStack("clean") as stack:
        yield stack


@pytest.fixture(scope="module")
def lossy_stack() -> Iterator[ChaosStack]:
    with ChaosStack("lossy") as stack:
        yield stack


@pytest.fixture
def fresh_clean(clean_stack: ChaosStack) -> ChaosStack:
    clean_stack.clear_writes()
    return clean_stack


@pytest.fixture
def chaos_report(request: pytest.FixtureRequest) -> Callable[[ChaosStack, list[FaultRun]], None]:
    """Write the test's faults, recovery times and last ledger check under reports/chaos/."""

    def write(stack: ChaosStack, runs: list[FaultRun]) -> None:
        verdict = "ledger ok" if runs and runs[-1].result.ok else "ledger violations"
        summary.write_run(
            f"pytest {request.node.name}",
            stack.describe(),
            [run.record() for run in runs],
            [run.result for run in runs[-1:]],
            ledger=runs[-1].ledger if runs else None,
            status=verdict,
        )

    return write
