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
from soberharness.targets.base import StackHost, lacks


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The chaos suite breaks stacks of its own, which the selected target runs beside itself
    when it declares StackHost (the plugin already refuses destructive tests where they are
    not allowed). A hook, not a fixture: it must decide before the module's stack fixture
    starts anything."""
    if item.get_closest_marker("destructive") is None:
        return
    target = item.config.stash[TARGET_KEY].target
    if not isinstance(target, StackHost):
        pytest.skip(lacks(target, StackHost))


def _host(request: pytest.FixtureRequest) -> StackHost:
    target = request.config.stash[TARGET_KEY].target
    if not isinstance(target, StackHost):
        pytest.skip(lacks(target, StackHost))
    return target


@pytest.fixture(scope="module")
def clean_stack(request: pytest.FixtureRequest) -> Iterator[ChaosStack]:
    with ChaosStack("clean", host=_host(request)) as stack:
        yield stack


@pytest.fixture(scope="module")
def lossy_stack(request: pytest.FixtureRequest) -> Iterator[ChaosStack]:
    with ChaosStack("lossy", host=_host(request)) as stack:
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
