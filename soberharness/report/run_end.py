"""How a pytest session of the harness ends: one line instead of a traceback, the exit status
of a run in which everything was skipped, and the run folder whatever the ending.

`RunEnd` is a pytest plugin the harness's plugin registers. It turns the harness's own stops
(`pytest.exit("soberharness: ...")`: an unreachable target, bad input) into that one line,
printed last, and Ctrl-C into pytest's one interrupt line `soberharness: interrupted (Ctrl-C)`
without the traceback; it makes a run in which every selected test was skipped exit with
status 5 (NO_TESTS_COLLECTED: nothing was checked) unless --allow-all-skipped; and it writes the
run folder with the verdict the exit status implies (run_folder.run_verdict), also after a
crash, when pytest shows no terminal summary. A run that left something on its target (the
leftover check, pytest_plugin.TargetHolder.check_leftovers) fails with one line per kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from soberharness.report import terminate
from soberharness.report.fallback import write_failed_line
from soberharness.report.run_folder import cases_from_reports, write_session_run
from soberharness.report.verdict import checked_the_target, nothing_checked_line

if TYPE_CHECKING:
    from soberharness.report.run_report import RunReport
    from soberharness.targets.base import Target

PREFIX = "soberharness:"
INTERRUPTED_LINE = "soberharness: interrupted (Ctrl-C); everything the harness started is stopped"


BAD_INPUT = 4  # errors.Exit.BAD_INPUT


def collection_error_line(pytest_says: str, files: list[str]) -> str:
    """One line for a run that stopped because test files could not be collected."""
    where = f" ({', '.join(files[:3])}{', ...' if len(files) > 3 else ''})" if files else ""
    return (f"{PREFIX} {pytest_says.removeprefix('Interrupted: ')}{where}: the test files "
            "must import before anything runs (see the errors above)")


class RunEnd:
    def __init__(self, config: pytest.Config, report: Callable[[], RunReport | None],
                 target: Callable[[], Target | None], run_id: Callable[[], str]) -> None:
        self.config = config
        self._report, self._target, self._run_id = report, target, run_id
        self.stopped_by = ""  # what ended the run early, for the run page
        self.all_skipped_line = ""
        self.leftover_lines: list[str] = []  # what the run left on its target (fails it)
        self.exitstatus = 0
        self._last_line = ""  # printed after pytest's summary instead of its `!!! Exit` banner
        self._written = False
        self.terminated = False  # SIGTERM: recorded as interrupted, exit status 143
        self.collection_failed = False  # a test file that cannot be collected: bad input, 4

    def _reporter(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    @pytest.hookimpl(trylast=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        reporter = self._reporter()
        if isinstance(excinfo.value, pytest.exit.Exception):
            line = str(excinfo.value.msg)
            if line.startswith(PREFIX) and reporter is not None:
                self.stopped_by = self.stopped_by or line
                self._last_line = line
                reporter._keyboardinterrupt_memo = None  # its `!!! _pytest.outcomes.Exit` banner
        elif isinstance(excinfo.value, pytest.Session.Interrupted) and \
                "during collection" in str(excinfo.value):
            self.collection_failed = True
            line = collection_error_line(str(excinfo.value), self._collect_errors())
            self.stopped_by = self.stopped_by or line
            crash = getattr(getattr(reporter, "_keyboardinterrupt_memo", None), "reprcrash", None)
            if crash is not None:
                crash.message = line  # not pytest's "Interrupted": nobody pressed Ctrl-C
        elif isinstance(excinfo.value, KeyboardInterrupt):
            self.terminated = isinstance(excinfo.value, terminate.Terminated)
            self.stopped_by = self.stopped_by or (
                terminate.STOPPED_BY if self.terminated else
                "interrupted (Ctrl-C) before the run finished")
            crash = getattr(getattr(reporter, "_keyboardinterrupt_memo", None), "reprcrash", None)
            if crash is not None and not self.config.option.fulltrace:
                # pytest's one interrupt line, no traceback
                crash.message = terminate.LINE if self.terminated else INTERRUPTED_LINE

    def session_finished(self, session: pytest.Session, controller: bool) -> None:
        """Called by the harness's pytest_sessionfinish, after the target stopped."""
        if controller:
            self._judge_leftovers(session)
            self._judge_all_skipped(session)
        if self.collection_failed and session.exitstatus == pytest.ExitCode.INTERRUPTED:
            session.exitstatus = BAD_INPUT
        self.exitstatus = int(session.exitstatus)
        if self.terminated:
            session.exitstatus = terminate.EXIT_STATUS  # the verdict stays: interrupted

    def _collect_errors(self) -> list[str]:
        reporter = self._reporter()
        reports = reporter.stats.get("error", []) if reporter is not None else []
        return [str(r.nodeid) or "?" for r in reports if isinstance(r, pytest.CollectReport)]

    def _judge_leftovers(self, session: pytest.Session) -> None:
        """A run that left something on its target fails (status 1), whatever its tests did."""
        if self.leftover_lines:
            self.stopped_by = self.stopped_by or self.leftover_lines[0]
            if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _judge_all_skipped(self, session: pytest.Session) -> None:
        reporter = self._reporter()
        if session.exitstatus != pytest.ExitCode.OK or reporter is None:
            return
        cases = cases_from_reports(r for reps in reporter.stats.values() for r in reps)
        if cases and not checked_the_target(cases):
            allowed = self.config.getoption("--allow-all-skipped")
            self.all_skipped_line = nothing_checked_line(cases, PREFIX, allowed)
            if not allowed:
                session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED

    def terminal_summary(self) -> None:
        reporter = self._reporter()
        if reporter is None:
            return
        for line in self.leftover_lines:
            reporter.write_line(line, red=True)
        if self.all_skipped_line:
            reporter.write_line(self.all_skipped_line, red=True)

    def write_run_folder(self) -> None:
        """reports/runs/<run id>/ (page, summary.json, junit.xml) and reports/index.html."""
        if self._written:
            return
        self._written = True
        reporter = self._reporter()
        stats = reporter.stats if reporter is not None else {}
        try:
            paths = write_session_run(self.config, stats, self._report(), self._target(),
                                      self.exitstatus, self.stopped_by or self.all_skipped_line,
                                      self._run_id())
        except OSError as exc:  # the verdict stays; the line says what could not be written
            if reporter is not None:
                reporter.write_line(write_failed_line(exc), red=True)
            return
        if paths and reporter is not None:
            reporter.write_line("run page: " + ", ".join(str(p) for p in paths))

    def pytest_unconfigure(self) -> None:
        controller = getattr(self.config, "workerinput", None) is None
        if controller and self.exitstatus == pytest.ExitCode.INTERNAL_ERROR:
            self.write_run_folder()  # pytest shows no terminal summary after a crash
        if self._last_line and self._reporter() is not None:
            self._reporter().write_line(self._last_line, red=True)
