"""The harness as a pytest plugin: target selection, service markers, guard rails, reports.

Options: --target NAME|FILE, --list-targets, --migrations DIR, --report-dir DIR,
--confirm-destructive NAME. Markers: @pytest.mark.needs("auth", ...) skips a test with a
reason naming the missing service; @pytest.mark.destructive is refused on targets that did
not opt in.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from soberharness.checker.declarations import Declarations, default_path, load_declarations
from soberharness.errors import DestructiveRefused, HarnessError
from soberharness.report.run_report import RunReport
from soberharness.targets.base import Service, Target
from soberharness.targets.environment import probe_environment
from soberharness.targets.migrations import REPO, STACK_MIGRATIONS
from soberharness.targets.selection import describe_targets, make_target

REPORT_KEY = pytest.StashKey[RunReport]()
TARGET_KEY = pytest.StashKey["TargetHolder"]()


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(*services): services the test needs from the target"
    )
    config.addinivalue_line("markers", "destructive: refused on targets that did not opt in")
    if config.getoption("--list-targets"):
        for line in describe_targets():
            print(line)
        pytest.exit("listed targets", returncode=0)
    config.stash[TARGET_KEY] = TargetHolder(config)


class TargetHolder:
    """Builds the target on first use (collection-only runs never start anything)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._target: Target | None = None
        self._started = False
        self.report: RunReport | None = None

    @property
    def target(self) -> Target:
        if self._target is None:
            try:
                self._target = make_target(
                    self.config.getoption("--target"), Path(self.config.getoption("--migrations"))
                )
            except HarnessError as exc:
                pytest.exit(f"soberharness: {exc}", returncode=4)
        return self._target

    def started(self) -> Target:
        target = self.target
        if not self._started:
            _progress(self.config, f"starting target '{target.name}' ({target.kind})...")
            began = time.monotonic()
            try:
                target.start()
            except HarnessError as exc:
                pytest.exit(f"soberharness: {exc}", returncode=4)
            self._started = True
            _progress(self.config, f"target '{target.name}' up in {time.monotonic() - began:.1f}s")
        return target

    def stop(self) -> None:
        if self._target is not None and self._started:
            self._target.stop()
            self._started = False


def _progress(config: pytest.Config, message: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not config.getoption("quiet", 0) > 1:
        reporter.write_line(f"[soberharness] {message}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    needs = [s for m in item.iter_markers("needs") for s in m.args]
    if needs or item.get_closest_marker("destructive"):
        holder = item.config.stash[TARGET_KEY]
        target = holder.target
        for name in needs:
            try:
                service = Service(name)
            except ValueError:
                pytest.fail(f"unknown service '{name}' in needs() marker", pytrace=False)
            if service not in target.services:
                pytest.skip(f"target '{target.name}' ({target.kind}) offers no '{service}' service")
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
def run_report(request: pytest.FixtureRequest, target: Target) -> RunReport:
    holder: TargetHolder = request.config.stash[TARGET_KEY]
    if holder.report is None:
        holder.report = RunReport(
            target=target.name,
            target_kind=target.kind,
            run_id=os.environ.get("SOBERHARNESS_RUN_ID") or secrets.token_hex(4),
            labels=dict(target.labels),
            migrations=str(request.config.getoption("--migrations")),
            secrets=target.keys.secrets(),
            environment=probe_environment(target, Path(request.config.getoption("--migrations"))),
        )
    return holder.report


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
    if hasattr(target, "new_database"):
        yield from _fresh_database(target, "m")
    else:
        yield _shared_database(target)


@pytest.fixture(scope="session")
def shared_or_fresh_database(target: Target) -> Iterator[str]:
    """Like module_database, for the whole session."""
    if hasattr(target, "new_database"):
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
    new_database = getattr(target, "new_database", None)
    if new_database is None:
        pytest.skip(
            f"target '{target.name}' ({target.kind}) makes no throwaway databases: "
            "this test needs the local target's 'postgres' service"
        )
    name = new_database(prefix)
    try:
        yield target.admin_dsn(name)
    finally:
        target.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture
def admin_connection(module_database: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(module_database, autocommit=True) as conn:
        yield conn


def _worker_id(config: pytest.Config) -> str | None:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    holder = terminalreporter.config.stash.get(TARGET_KEY, None)
    folder = Path(terminalreporter.config.getoption("--report-dir"))
    if holder is not None and holder.report is None:
        # Under pytest-xdist the workers ran the suites and wrote a report each.
        parts = sorted(folder.glob("gw*/summary.json"))
        if parts:
            terminalreporter.write_sep("-", "soberharness (per xdist worker)")
            for part in parts:
                terminalreporter.write_line(f"{part.parent.name}: {part}")
    if holder is None or holder.report is None:
        if holder is not None and _worker_id(terminalreporter.config) is None:
            _write_run_folder(terminalreporter, holder)
        return
    report = holder.report
    stats = terminalreporter.stats
    report.outcomes = {k: len(v) for k, v in stats.items() if k in ("passed", "failed", "skipped",
                                                                      "error")}
    paths = report.write(folder)
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
    _write_run_folder(terminalreporter, holder)


def _write_run_folder(terminalreporter: pytest.TerminalReporter, holder: TargetHolder) -> None:
    """reports/runs/<run id>/ (page, summary.json, junit.xml) and reports/index.html."""
    from soberharness.report.run_folder import write_session_run

    paths = write_session_run(terminalreporter.config, terminalreporter.stats, holder.report,
                              holder._target)
    if paths:
        terminalreporter.write_line("run page: " + ", ".join(str(p) for p in paths))


def pytest_sessionstart(session: pytest.Session) -> None:
    if _worker_id(session.config) is None:  # the controller clears the workers' old reports
        folder = Path(session.config.getoption("--report-dir"))
        for old in folder.glob("gw*/summary.json"):
            old.unlink()


def pytest_sessionfinish(session: pytest.Session) -> None:
    holder = session.config.stash.get(TARGET_KEY, None)
    if holder is None:
        return
    worker = _worker_id(session.config)
    if worker is not None and holder.report is not None:
        folder = Path(session.config.getoption("--report-dir")) / worker
        holder.report.write(folder)
    holder.stop()
