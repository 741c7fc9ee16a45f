"""Fixtures of the disaster-recovery suite: each drill's chaostoolkit experiment, run once per
session with `chaos run` (soberharness.dr.experiments), shared by the tests that judge it.

Every stack here is the harness's own set of PostgreSQL servers (primary, standbys, restored
copies), started by the experiment's control and stopped by it whatever happens; the tests are
destructive and run where the selected target declares StackHost (the local target does).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from pathlib import Path

import pytest

from soberharness.chaos.progress_file import Merged
from soberharness.dr.experiments import NEEDS, ExperimentRun, run_experiment
from soberharness.dr.tools import missing
from soberharness.pytest_plugin import TARGET_KEY, live_progress
from soberharness.records.progress import Progress
from soberharness.targets.base import StackHost, lacks


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Drills break stacks of their own on this machine: the selected target must declare
    StackHost."""
    if item.get_closest_marker("destructive") is None:
        return
    target = item.config.stash[TARGET_KEY].target
    if not isinstance(target, StackHost):
        pytest.skip(lacks(target, StackHost))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dr_experiment(name): the drill experiment a test judges")


def _skip_reason(name: str) -> str | None:
    for tool in NEEDS[name]:
        reason = missing(tool)
        if reason:
            return reason
    return None


@pytest.fixture(scope="session")
def drill(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ExperimentRun]:
    """drill(experiment file name) -> its run. On first use every experiment the selected
    tests judge (their dr_experiment markers) runs, concurrently (each its own servers and
    ports; most of a drill is waiting); each run is then shared, a failed one not rerun.
    While they run, one progress line tells their runbook steps done of all, and each
    drill's current step."""
    runs: dict[str, ExperimentRun | BaseException] = {}

    def one(name: str, progress: Progress | None) -> None:
        try:
            runs[name] = run_experiment(name, tmp_path_factory.mktemp(Path(name).stem),
                                        progress=progress)
        except Exception as exc:
            runs[name] = exc

    def get(name: str) -> ExperimentRun:
        reason = _skip_reason(name)
        if reason:
            pytest.skip(reason)
        if name not in runs:
            wanted = {m.args[0] for item in request.session.items
                      for m in item.iter_markers("dr_experiment")} | {name}
            todo = sorted(n for n in wanted if n not in runs and not _skip_reason(n))
            label = "drill " + ", ".join(Path(n).stem for n in todo)
            with (live_progress(request.config, label, "steps") as line,
                  concurrent.futures.ThreadPoolExecutor(max_workers=len(todo)) as pool):
                merged = None if line is None else Merged(line)
                parts = [None if merged is None else merged.part(Path(n).stem) for n in todo]
                list(pool.map(one, todo, parts))
        found = runs[name]
        if isinstance(found, BaseException):
            raise found
        return found

    return get
