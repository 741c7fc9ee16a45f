"""Fixtures of the operations suite: the stack's monitoring run for real on this machine
(soberharness.ops.monitoring), with a PostgreSQL of its own that the tests stop.

Destructive (a database is stopped), on stacks the harness runs beside the selected target:
the target must declare StackHost (the local target does).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from soberharness.ops import tools
from soberharness.ops.checks import LiveMonitoring, look
from soberharness.ops.monitoring import MonitoringStack
from soberharness.ops.receiver import WebhookReceiver
from soberharness.pytest_plugin import TARGET_KEY
from soberharness.report.run_report import RunReport
from soberharness.targets.base import StackHost, lacks

MONITORING_TOOLS = ("prometheus", "alertmanager", "postgres-exporter", "nginx-exporter", "nginx",
                    "mtail", "pgbackrest")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("destructive") is None:
        return
    target = item.config.stash[TARGET_KEY].target
    if not isinstance(target, StackHost):
        pytest.skip(lacks(target, StackHost))


@contextlib.contextmanager
def _live_monitoring() -> Iterator[LiveMonitoring]:
    reason = tools.missing(*MONITORING_TOOLS)
    if reason:
        pytest.skip(reason)
    began = time.monotonic()
    with WebhookReceiver() as receiver, MonitoringStack(receiver.url) as stack:
        assert stack.rendered is not None
        live = LiveMonitoring(stack, receiver, look(stack.prometheus_url, stack.rendered.rules))
        live.started_s = time.monotonic() - began
        yield live


@pytest.fixture(scope="module")
def monitoring(run_report: RunReport) -> Iterator[LiveMonitoring]:
    """The module's stack, shared by its tests (some break it: its PostgreSQL is stopped)."""
    with _live_monitoring() as live:
        run_report.notes.setdefault("monitoring end to end", {}).update(live.note())
        yield live


@pytest.fixture
def own_monitoring() -> Iterator[LiveMonitoring]:
    """A stack for one test alone: what it finds does not hang on what other tests did
    to the module's (a stopped PostgreSQL, rows written)."""
    with _live_monitoring() as live:
        yield live
