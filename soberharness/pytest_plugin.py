"""The harness as a pytest plugin: target selection, service markers, guard rails, reports.

Options: --target NAME|FILE, --list-targets, --migrations DIR, --report-dir DIR,
--confirm-destructive NAME, --allow-all-skipped, --storage-sample N. Markers:
@pytest.mark.needs("auth", ...) skips a test with a reason naming the missing service;
@pytest.mark.destructive is refused on targets that did not opt in.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.errors import DestructiveRefused, HarnessError
from soberharness.lints.declarations import Declarations, default_path, load_declarations
from soberharness.records.progress import Progress
from soberharness.report import terminate, verdict
from soberharness.report.bad_input import BadInputStops
from soberharness.report.progress import ProgressLine, plain_lines_wanted
from soberharness.report.run_end import RunEnd
from soberharness.report.run_report import RunReport
from soberharness.targets.base import DatabaseProvisioning, Deployment, Service, Target
from soberharness.targets.environment import probe_environment
from soberharness.targets.migrations import REPO, STACK_MIGRATIONS
from soberharness.targets.selection import describe_targets, make_target
from soberharness.workload.storage_sample import SAMPLE_ENV, parse_sample

if TYPE_CHECKING:
    from soberharness.report.xdist_merge import XdistReports

REPORT_KEY = pytest.StashKey[RunReport]()
TARGET_KEY = pytest.StashKey["TargetHolder"]()
STORAGE_SAMPLE_KEY = pytest.StashKey[int | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("soberharness")
    group.addoption(
        "--target",
        default=os.environ.get("SOBERHARNESS_TARGET", "local"),
        help="where the stack runs: local (default), containers, or a remote target file (.toml)",
    )
    group.addoption("--list-targets", action="store_true", help="show configured targets and exit")
    group.addoption(
        "--migrations",
        default=os.environ.get("SOBERHARNESS_MIGRATIONS", str(STACK_MIGRATIONS)),
        help="migrations folder to check instead of stack/migrations (env SOBERHARNESS_MIGRATIONS)",
    )
    group.addoption(
        "--declarations",
        default=os.environ.get("SOBERHARNESS_DECLARATIONS"),
        help="the stack's declaration file (default: declarations.toml beside the migrations "
        "folder; env SOBERHARNESS_DECLARATIONS)",
    )
    group.addoption(
        "--report-dir",
        default=os.environ.get("SOBERHARNESS_REPORT_DIR", str(REPO / "reports" / "latest")),
        help="where to write summary.json, summary.md and matrix.html",
    )
    group.addoption(
        "--depth",
        choices=("ci", "nightly"),
        default=os.environ.get("SOBERHARNESS_DEPTH", "ci"),
        help="how hard the security suite's state machine looks: ci (default, ~10 s) or "
        "nightly (env SOBERHARNESS_DEPTH)",
    )
    group.addoption(
        "--replay-steps",
        default=None,
        metavar="FILE",
        help="replay a steps file (as the state machine writes on failure) instead of searching",
    )
    group.addoption(
        "--baseline-ref",
        default=None,
        metavar="REF",
        help="git ref whose stack/ the performance gate compares with the stack under test in "
        "the same run (default: SOBERHARNESS_BASELINE_REF, the last tag, the merge base, HEAD)",
    )
    group.addoption(
        "--baseline-file",
        default=None,
        metavar="JSON",
        help="also judge suites/performance against a recorded pytest-benchmark baseline "
        "(opt-in, e.g. reports/baselines/2cpu/performance.json: figures from another run)",
    )
    group.addoption(
        "--confirm-destructive",
        default=None,
        metavar="TARGET",
        help="name of the remote target on which destructive suites may run",
    )
    group.addoption(
        "--allow-all-skipped",
        action="store_true",
        default=os.environ.get("SOBERHARNESS_ALLOW_ALL_SKIPPED") == "1",
        help="exit 0 when every selected test was skipped (default: exit 5, nothing was "
        "checked; env SOBERHARNESS_ALLOW_ALL_SKIPPED=1)",
    )
    group.addoption(
        "--storage-sample",
        default=os.environ.get(SAMPLE_ENV, ""),
        metavar="N",
        help="run N cells per bucket of the storage matrix over HTTP, chosen to cover every "
        f"form, actor and owner privacy (default: every cell; env {SAMPLE_ENV})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(*services): services the test needs from the target"
    )
    config.addinivalue_line("markers", "destructive: refused on targets that did not opt in")
    config.addinivalue_line("markers", verdict.MARKER_HELP)
    try:
        config.stash[STORAGE_SAMPLE_KEY] = parse_sample(config.getoption("--storage-sample"))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    holder = config.stash[TARGET_KEY] = TargetHolder(config)
    config.pluginmanager.register(holder.end, "soberharness-run-end")
    config.pluginmanager.register(BadInputStops(config), "soberharness-bad-input")
    terminate.install()
    if config.pluginmanager.hasplugin("xdist") and _worker_id(config) is None:
        from soberharness.report.xdist_merge import XdistReports

        holder.xdist = XdistReports(holder.run_id)
        config.pluginmanager.register(holder.xdist, "soberharness-xdist-reports")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if config.getoption("--list-targets"):
        for line in describe_targets(config.getoption("--target")):
            print(line)
        return 0
    return None


class TargetHolder:
    """Builds the target on first use (collection-only runs never start anything)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._target: Target | None = None
        self._started = False
        self._stopped = False
        self.used = False  # the target was started in this process at some point
        self.report: RunReport | None = None
        self._run_id = ""
        self.xdist: XdistReports | None = None  # the controller's, under pytest -n N
        self.end = RunEnd(config, lambda: self.report, self.any_target, lambda: self.run_id)

    @property
    def run_id(self) -> str:
        """This run's id: SOBERHARNESS_RUN_ID, else made here (the xdist controller hands its
        own to the workers)."""
        if not self._run_id:
            from soberharness.report.xdist_merge import RUN_ID_KEY

            workerinput = getattr(self.config, "workerinput", None) or {}
            self._run_id = (workerinput.get(RUN_ID_KEY) or os.environ.get("SOBERHARNESS_RUN_ID")
                            or secrets.token_hex(4))
        return self._run_id

    def fail(self, message: str) -> NoReturn:
        """End the run with one line (exit status 4; report.run_end prints it)."""
        pytest.exit(message, returncode=4)

    @property
    def target(self) -> Target:
        if self._target is None:
            try:
                self._target = make_target(
                    self.config.getoption("--target"), Path(self.config.getoption("--migrations"))
                )
            except HarnessError as exc:
                self.fail(f"soberharness: {exc}")
        return self._target

    def started(self) -> Target:
        target = self.target
        if self._stopped:
            self.fail(f"soberharness: target '{target.name}' was already stopped")
        if not self._started:
            _progress(self.config, f"starting target '{target.name}' ({target.kind})...")
            began = time.monotonic()
            try:
                target.start()
            except HarnessError as exc:
                self.fail(f"soberharness: {exc}")
            self._started = self.used = True
            _progress(self.config, f"target '{target.name}' up in {time.monotonic() - began:.1f}s")
        return target

    def any_target(self) -> Target | None:
        """The target if it was made, else made now for its name and keys (the xdist controller
        makes none); None when it cannot be made (the run already said why)."""
        if self._target is None:
            with contextlib.suppress(HarnessError):
                self._target = make_target(self.config.getoption("--target"),
                                           Path(self.config.getoption("--migrations")))
        return self._target

    def stop(self) -> None:
        """Stop the target for good (a later use ends the run instead of starting anew), after
        the leftover check of the run."""
        if not self._stopped:
            self.end.leftover_lines = self.check_leftovers()
        self._stopped = True
        if self._target is not None and self._started:
            self._target.stop()
            self._started = False


    def check_leftovers(self) -> list[str]:
        """Lines naming what this run left on its target's database (found by the run id),
        one per kind. Once per run: here when this process used the target, on the xdist
        controller for a remote target its workers share (a local or containers target is
        each worker's own and goes with it)."""
        if _worker_id(self.config) is not None:
            return []
        target = self._target if self._started else None
        if target is None and self.xdist is not None and self.xdist.target_used:
            made = self.any_target()
            target = made if isinstance(made, Deployment) else None
        if target is None or Service.POSTGRES not in target.services:
            return []
        from soberharness.checker.leftovers import leftover_lines
        from soberharness.workload.leftovers import MIN_MARK, find_leftovers, run_mark

        if len(run_mark(self.run_id)) < MIN_MARK:  # it would match what other runs made
            _progress(self.config, f"no leftover check: run id '{self.run_id}' has fewer than "
                      f"{MIN_MARK} letters and digits to find its things by")
            return []
        try:
            found = find_leftovers(target.admin_dsn(), self.run_id)
        except (psycopg.Error, HarnessError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return [f"soberharness: the leftover check of run {self.run_id} could not look at "
                    f"target '{target.name}': {first}"]
        return leftover_lines(found, self.run_id, target.name)


def _progress(config: pytest.Config, message: str) -> None:
    """A line on the terminal now, also from inside a test's setup (where pytest captures
    output: the target starts there, and its lines must not be swallowed)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not config.getoption("quiet", 0) > 1:
        capture = config.pluginmanager.get_plugin("capturemanager")
        uncaptured = (capture.global_and_fixture_disabled() if capture is not None
                      else contextlib.nullcontext())
        with uncaptured:
            reporter.write_line(f"[soberharness] {message}")


class _Uncaptured:
    """The terminal reporter as a stream, written past pytest's capture (the matrix runs in a
    fixture's setup, the state machine in a test)."""

    def __init__(self, config: pytest.Config, reporter: pytest.TerminalReporter) -> None:
        self.capture = config.pluginmanager.get_plugin("capturemanager")
        self.reporter = reporter

    def uncaptured(self) -> contextlib.AbstractContextManager[object]:
        return (self.capture.global_and_fixture_disabled() if self.capture is not None
                else contextlib.nullcontext())

    def isatty(self) -> bool:
        """Whether the terminal reporter writes to a terminal (asked with capture off: while
        pytest captures, its descriptor is a file)."""
        with self.uncaptured():
            file = getattr(self.reporter._tw, "_file", None)
            return bool(file is not None and file.isatty())

    def write(self, text: str) -> int:
        with self.uncaptured():
            self.reporter.write(text, flush=True)
        return len(text)

    def newline(self) -> None:
        """Off the line pytest began (a file's name, dots): progress starts on its own line;
        pytest writes the file's name again before its next dots."""
        with self.uncaptured():
            if self.reporter._tw.width_of_current_line:
                self.reporter._tw.line()
        self.reporter.currentfspath = None

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def live_progress(config: pytest.Config, label: str, unit: str) -> Iterator[Progress | None]:
    """A progress line for a long stretch (report.progress): updated in place on a terminal,
    plain lines at a bounded rate in a log or under CI; None where nothing is shown (an xdist
    worker, -qq)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or _worker_id(config) is not None or config.getoption("quiet", 0) > 1:
        yield None
        return
    stream = _Uncaptured(config, reporter)
    line = ProgressLine(stream, label, unit,  # type: ignore[arg-type]
                        plain=plain_lines_wanted(stream.isatty(), os.environ))
    stream.newline()
    try:
        yield line
    finally:
        line.close()
        stream.newline()


def announce(config: pytest.Config, message: str) -> None:
    """One `[soberharness] ...` line in the terminal, for what the person running must know."""
    _progress(config, message)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """First lines of the run: what the person running must know before the tests."""
    if _worker_id(session.config) is None:
        line = missing_declarations_line(session.config)
        if line:
            announce(session.config, line)


def missing_declarations_line(config: pytest.Config) -> str:
    """A migrations folder without a declaration file beside it, and no --declarations: its
    exposed surfaces and accepted warnings are unknown, so tests that read them fail."""
    if config.getoption("--declarations"):
        return ""
    migrations = Path(config.getoption("--migrations"))
    path = default_path(migrations)
    if path.exists() or not migrations.is_dir():
        return ""
    return (f"no declaration file {path} beside the migrations folder {migrations}: nothing "
            "is declared (exposed surfaces, accepted warnings); pass --declarations FILE "
            "(e.g. stack/declarations.toml) or put one there")


def pytest_runtest_setup(item: pytest.Item) -> None:
    needs = [s for m in item.iter_markers("needs") for s in m.args]
    if needs or item.get_closest_marker("destructive"):
        holder = item.config.stash[TARGET_KEY]
        # Started (a remote one: checked reachable) before its services decide what is
        # skipped: a target that cannot be reached fails the run, it does not skip it.
        target = holder.started()
        for name in needs:
            try:
                service = Service(name)
            except ValueError:
                pytest.fail(f"unknown service '{name}' in needs() marker", pytrace=False)
            if service not in target.services:
                why = target.missing_reason(service)
                pytest.skip(f"target '{target.name}' ({target.kind}) offers no '{service}' service"
                            + (f" ({why})" if why else ""))
        if item.get_closest_marker("destructive"):
            from soberharness.targets.guard import check_destructive

            try:
                check_destructive(target, item.config.getoption("--confirm-destructive"))
            except DestructiveRefused as exc:
                pytest.skip(f"refused: {exc}")


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The started target for this run; stopped at the end, on failure and on Ctrl-C."""
    holder = request.config.stash[TARGET_KEY]
    yield holder.started()
    holder.stop()


@pytest.fixture(scope="session")
def run_id(request: pytest.FixtureRequest) -> str:
    """This run's id: whatever a test creates on a target carries it (see
    workload/leftovers.py), so that the run-end leftover check finds what stayed behind."""
    holder: TargetHolder = request.config.stash[TARGET_KEY]
    return holder.run_id


@pytest.fixture(scope="session")
def run_report(request: pytest.FixtureRequest, target: Target) -> RunReport:
    holder: TargetHolder = request.config.stash[TARGET_KEY]
    if holder.report is None:
        holder.report = RunReport(
            target=target.name,
            target_kind=target.kind,
            run_id=holder.run_id,
            labels=dict(target.labels),
            migrations=str(request.config.getoption("--migrations")),
            secrets=target.keys.secrets(),
            environment=probe_environment(target, Path(request.config.getoption("--migrations"))),
        )
    return holder.report


@pytest.fixture(scope="session")
def storage_sample(request: pytest.FixtureRequest) -> int | None:
    """How many storage matrix cells per bucket to run over HTTP (None: every cell)."""
    return request.config.stash[STORAGE_SAMPLE_KEY]


@pytest.fixture(scope="session")
def declarations(request: pytest.FixtureRequest) -> Declarations:
    """The stack's declared exposed surfaces and accepted warnings."""
    given = request.config.getoption("--declarations")
    path = Path(given) if given else default_path(Path(request.config.getoption("--migrations")))
    try:
        return load_declarations(path, required=bool(given))
    except HarnessError as exc:
        pytest.exit(f"soberharness: {exc}", returncode=4)


@pytest.fixture(scope="module")
def module_database(target: Target) -> Iterator[str]:
    """DSN of a database for this module: a clone of the migrated template where the target
    makes throwaway databases (local), else the target's own database (a remote DSN), which
    tests must leave as they found it."""
    if isinstance(target, DatabaseProvisioning):
        yield from _fresh_database(target, "m")
    else:
        yield _shared_database(target)


@pytest.fixture(scope="session")
def shared_or_fresh_database(target: Target) -> Iterator[str]:
    """Like module_database, for the whole session."""
    if isinstance(target, DatabaseProvisioning):
        yield from _fresh_database(target, "session")
    else:
        yield _shared_database(target)


def _shared_database(target: Target) -> str:
    if Service.POSTGRES not in target.services:
        pytest.skip(f"target '{target.name}' ({target.kind}) offers no 'postgres' service")
    return target.admin_dsn()


@pytest.fixture(scope="module")
def module_scratch_database(target: Target) -> Iterator[str]:
    """DSN of a throwaway database for this module (local target only): load or break it."""
    yield from _fresh_database(target, "mscratch")


@pytest.fixture
def scratch_database(target: Target) -> Iterator[str]:
    """DSN of a throwaway database cloned from the migrated template (break it at will)."""
    yield from _fresh_database(target, "scratch")


def _fresh_database(target: Target, prefix: str) -> Iterator[str]:
    if not isinstance(target, DatabaseProvisioning):
        pytest.skip(
            f"target '{target.name}' ({target.kind}) makes no throwaway databases: "
            "this test needs the local target's 'postgres' service"
        )
    name = target.new_database(prefix)
    try:
        yield target.admin_dsn(name)
    finally:
        target.drop_database(name)


@pytest.fixture
def admin_connection(module_database: str) -> Iterator[psycopg.Connection]:
    with db_session.connect(module_database, autocommit=True) as conn:
        yield conn


def _worker_id(config: pytest.Config) -> str | None:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """A remote target is checked (its secrets' variables set, every URL and the DSN answering
    within a bounded time) before the first test; the others start when a test needs them."""
    if session.config.option.collectonly or not session.items:
        return
    holder = session.config.stash[TARGET_KEY]
    if isinstance(holder.target, Deployment):
        holder.started()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    holder = terminalreporter.config.stash.get(TARGET_KEY, None)
    if _worker_id(terminalreporter.config) is None:
        from soberharness.report.fallback import ensure_writable_report_dir

        moved = ensure_writable_report_dir(terminalreporter.config)
        if moved:
            terminalreporter.write_line(moved, red=True)
    folder = Path(terminalreporter.config.getoption("--report-dir"))
    if holder is not None and holder.report is None and holder.xdist and holder.xdist.parts:
        # Under pytest-xdist the workers ran the suites: one report from all of theirs.
        from soberharness.report.run_folder import target_secrets
        from soberharness.report.xdist_merge import merge_reports

        holder.report = merge_reports(holder.xdist.parts, target_secrets(holder.any_target()))
    if holder is not None:
        holder.end.terminal_summary()
    if holder is None or holder.report is None:
        if holder is not None and _worker_id(terminalreporter.config) is None:
            holder.end.write_run_folder()
        return
    report = holder.report
    stats = terminalreporter.stats
    report.outcomes = {k: len(v) for k, v in stats.items() if k in ("passed", "failed", "skipped",
                                                                      "error")}
    try:
        paths = report.write(folder)
    except OSError as exc:
        from soberharness.report.fallback import write_failed_line

        terminalreporter.write_line(write_failed_line(exc), red=True)
        paths = []
    terminalreporter.write_sep("-", "soberharness")
    terminalreporter.write_line(report.one_line())
    for mismatch in report.mismatches[:20]:
        c = mismatch.cell
        terminalreporter.write_line(
            f"  MISMATCH {c.actor} {c.op.value} {c.table} [{c.case}] privacy={c.privacy}"
            + (f" token={c.token}" if c.token else "")
            + f": expected {'allow' if mismatch.expected else 'deny'}, "
            f"got {'allow' if mismatch.actual else 'deny'} ({mismatch.detail})"
        )
    terminalreporter.write_line("reports: " + ", ".join(str(p) for p in paths))
    holder.end.write_run_folder()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After pytest tore the session fixtures down (trylast): stop the target for good, and
    make a run in which every test was skipped fail unless --allow-all-skipped."""
    holder = session.config.stash.get(TARGET_KEY, None)
    if holder is None:
        return
    worker = _worker_id(session.config)
    if worker is not None:
        from soberharness.report.xdist_merge import TARGET_USED_KEY

        session.config.workeroutput[TARGET_USED_KEY] = holder.used  # type: ignore[attr-defined]
    if worker is not None and holder.report is not None:
        from soberharness.report.xdist_merge import REPORT_KEY as WORKER_REPORT
        from soberharness.report.xdist_merge import report_to_data

        workeroutput = session.config.workeroutput  # type: ignore[attr-defined]
        workeroutput[WORKER_REPORT] = report_to_data(holder.report)
    holder.stop()
    holder.end.session_finished(session, controller=worker is None)
