"""Bad input ends the run with one line and exit status 4, wherever it turns up.

A HarnessError raised while a test module is imported (e.g. a bad number in an environment
variable read at import time) would be a collection error, which pytest reports as an
interrupted run with a code excerpt; BadInput raised in a fixture or test would be a test
failure. Both become `soberharness: <line>`, exit 4 (report.run_end prints the line). A
`--replay-steps` file is read before the first test: a bad line or a binary file is bad input
too, named by file and line. A statement that hit the harness's statement timeout
(db.session.StatementHung) fails its test with that one line instead of a traceback, and the
run goes on.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from soberharness.db.session import StatementHung
from soberharness.errors import BadInput, HarnessError

PREFIX = "soberharness:"


def stop_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if first.startswith(PREFIX) else f"{PREFIX} {first}"


class BadInputStops:
    """Registered by the harness's plugin (pytest_configure)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, Any]:
        report = yield
        call = getattr(report, "call", None) or report.__dict__.get("call")
        excinfo = getattr(call, "excinfo", None)
        value = excinfo.value if excinfo is not None else None
        value = getattr(value, "cause", value)  # a conftest's import failure wraps it
        if isinstance(value, HarnessError):
            pytest.exit(stop_line(value), returncode=4)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if call.excinfo is not None and isinstance(call.excinfo.value, BadInput):
            pytest.exit(stop_line(call.excinfo.value), returncode=4)
        if call.excinfo is not None and isinstance(call.excinfo.value, StatementHung):
            report.longrepr = stop_line(call.excinfo.value)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        steps_file = self.config.getoption("--replay-steps", default=None)
        if not steps_file or self.config.option.collectonly:
            return
        from soberharness.records.steps import StepSyntaxError
        from soberharness.workload.steps import load_steps

        try:
            load_steps(steps_file)
        except StepSyntaxError as exc:
            pytest.exit(stop_line(exc), returncode=4)
