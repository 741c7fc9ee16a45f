"""pytest plugin: line coverage of soberharness/ (coverage.py) over a whole test run.

Loaded early by pyproject's `addopts` (`-p soberharness.coverage_plugin`); measuring starts
when it is imported, before the harness's own plugin (an entry point) imports the harness.
By default (`--harness-coverage=auto`) it keeps measuring only for a run of the whole default
suite (no test paths, no -k/-m/--deselect), in this process only: the pytest runs that
selftests start as subprocesses see SOBERHARNESS_COVERAGE_PARENT and measure nothing. At the
end it prints the per-package table and, when every collected test ran on the local target,
judges the modules below 70 % against docs/coverage.md
(soberharness/checker/line_coverage.py): one it does not list fails the run.
`--harness-coverage=on` measures and prints for any selection (judging still needs the whole
suite); `off`, or `-p no:soberharness.coverage_plugin`, turns it off.
`SOBERHARNESS_COVERAGE_DATA=FILE` keeps the data (for `coverage report`/`html`);
`SOBERHARNESS_COVERAGE_DECLARED=FILE` judges against another list (the plugin's selftest).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from soberharness.checker.line_coverage import ModuleCoverage

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent
DECLARED = REPO / "docs" / "coverage.md"
ENV_DECLARED = "SOBERHARNESS_COVERAGE_DECLARED"  # another list (the plugin's own selftest)
ENV_PARENT = "SOBERHARNESS_COVERAGE_PARENT"
ENV_DATA = "SOBERHARNESS_COVERAGE_DATA"
# Imported before measuring can start (this module and the package it sits in).
NOT_MEASURED = (str(PACKAGE / "__init__.py"), str(PACKAGE / "coverage_plugin.py"))
_SELECTING = ("keyword", "markexpr", "deselect")
_BROKEN_RUN = (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR,
               pytest.ExitCode.USAGE_ERROR)


class _Measure:
    """The coverage.py session of this run, and whether it covers the whole default suite."""

    def __init__(self) -> None:
        import coverage

        self.whole_suite = False
        self.cov = coverage.Coverage(
            data_file=os.environ.get(ENV_DATA) or None, source_pkgs=["soberharness"],
            omit=list(NOT_MEASURED), config_file=False)
        # This package is imported before measuring starts; its modules are measured anyway.
        self.cov.set_option("run:disable_warnings", ["module-not-measured"])
        self.cov.start()

    def discard(self) -> None:
        self.cov.stop()
        self.cov.erase()

    def stop(self) -> list[ModuleCoverage]:
        from soberharness.checker.line_coverage import ModuleCoverage

        self.cov.stop()
        if os.environ.get(ENV_DATA):
            self.cov.save()
        modules = []
        for filename in self.cov.get_data().measured_files():
            _, statements, _, missing, _ = self.cov.analysis2(filename)
            modules.append(ModuleCoverage(
                Path(filename).resolve().relative_to(REPO).as_posix(), len(statements),
                len(missing)))
        return self._unimported(modules)

    def _unimported(self, modules: list[ModuleCoverage]) -> list[ModuleCoverage]:
        """Modules no test imported count too, with every line missed."""
        from soberharness.checker.line_coverage import ModuleCoverage

        seen = {m.path for m in modules}
        for path in sorted(PACKAGE.rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel in seen or str(path) in NOT_MEASURED:
                continue
            _, statements, _, missing, _ = self.cov.analysis2(str(path))
            modules.append(ModuleCoverage(rel, len(statements), len(missing)))
        return modules


def _start_at_import() -> _Measure | None:
    """Measuring starts when pytest imports this plugin (`-p`, before the plugins installed as
    entry points, such as soberharness.pytest_plugin, import the harness's modules); the run's
    options decide later whether it goes on. Never in a pytest run a measured run started, nor
    in a pytest-xdist worker."""
    if os.environ.get(ENV_PARENT) or os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    try:
        return _Measure()
    except ImportError:
        return None


_AT_IMPORT: list[_Measure | None] = [_start_at_import()]
_MEASURE_KEY = pytest.StashKey[_Measure]()
_SESSION_KEY = pytest.StashKey[pytest.Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("soberharness").addoption(
        "--harness-coverage", choices=("auto", "on", "off"), default="auto",
        help="line coverage of soberharness/ (auto: only for the whole default suite)")


def _whole_suite(options: Any) -> bool:
    return not getattr(options, "file_or_dir", None) and not any(
        getattr(options, name, None) for name in _SELECTING)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    measure, _AT_IMPORT[0] = _AT_IMPORT[0], None
    options = early_config.known_args_namespace
    mode = getattr(options, "harness_coverage", "auto")
    whole = _whole_suite(options)
    wanted = not (mode == "off" or os.environ.get(ENV_PARENT)
                  or os.environ.get("PYTEST_XDIST_WORKER")
                  or getattr(options, "numprocesses", None) or (mode == "auto" and not whole))
    if measure is not None and not wanted:
        measure.discard()
    if not wanted:
        return
    if measure is None:
        print("soberharness: coverage.py is not installed (run ./scripts/setup.sh): "
              "no line coverage for this run")
        return
    measure.whole_suite = whole
    os.environ[ENV_PARENT] = str(os.getpid())  # the pytest runs selftests start measure nothing
    early_config.stash[_MEASURE_KEY] = measure


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION_KEY] = session


def _every_test_ran(session: pytest.Session, stats: dict[str, list[Any]]) -> bool:
    ran = {getattr(r, "nodeid", None) for key in ("passed", "failed", "skipped", "error",
                                                   "xfailed", "xpassed")
           for r in stats.get(key, [])}
    return (not session.shouldstop and not session.shouldfail
            and session.exitstatus not in _BROKEN_RUN
            and len(ran - {None}) >= session.testscollected > 0)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    measure = config.stash.get(_MEASURE_KEY, None)
    if measure is None:
        return
    # Imported here, not at the top: measuring starts after this module is imported.
    from soberharness.checker.line_coverage import BAR_PERCENT, judge, read_declared, table_lines

    del config.stash[_MEASURE_KEY]
    modules = measure.stop()
    write = terminalreporter.write_line
    terminalreporter.write_sep("-", "line coverage of soberharness/ (this process)")
    for line in table_lines(modules):
        write(line)
    session = config.stash[_SESSION_KEY]
    local = config.getoption("--target", default="local") == "local"
    if not (measure.whole_suite and local and _every_test_ran(session, terminalreporter.stats)):
        write("(not the whole default suite on the local target: the modules below "
              f"{BAR_PERCENT:.0f} % are not judged)")
        return
    declared = Path(os.environ.get(ENV_DECLARED) or DECLARED)
    verdict = judge(modules, read_declared(declared))
    for note in verdict.stale:
        write(f"coverage note: {note} in {declared}")
    if verdict.undeclared:
        for module in verdict.undeclared:
            write(f"COVERAGE: {module.path} {module.percent:.0f}% < {BAR_PERCENT:.0f}%, "
                  f"not listed with a reason in {declared}", red=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        write(f"every module below {BAR_PERCENT:.0f} % is listed with its reason in {declared}")
