"""Running a drill's chaostoolkit experiment (chaos/dr/*.json) with `chaos run`, as a person
would, its reports in a folder of its own, then copied under reports/chaos/ (where the run
report picks them up)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from soberharness.chaos import summary
from soberharness.chaos.child import run_chaos
from soberharness.chaos.progress_file import ENV as PROGRESS_ENV
from soberharness.chaos.progress_file import Follower
from soberharness.errors import HarnessError
from soberharness.records.progress import Progress
from soberharness.targets.migrations import REPO

EXPERIMENTS = REPO / "chaos" / "dr"
CHAOS = Path(sys.executable).parent / "chaos"
# experiment -> the programs it needs beyond PostgreSQL's server
NEEDS: dict[str, tuple[str, ...]] = {
    "pitr-restore-to-a-time.json": ("pgbackrest", "psql"),
    "failover-synchronous.json": ("pg_basebackup", "pg_rewind", "pg_isready", "psql"),
    "failover-async-lossy.json": ("pg_basebackup", "pg_isready", "psql"),
}


@dataclasses.dataclass
class ExperimentRun:
    name: str
    returncode: int
    stderr: str
    journal: dict[str, Any]
    summary: dict[str, Any]

    @property
    def dr(self) -> dict[str, Any]:
        found = self.summary.get("dr")
        if not found:
            raise HarnessError(f"{self.name}: the drill did not run: {self.activities()}")
        return found

    def activities(self) -> str:
        """What each activity returned or raised, and the steady state after (for messages)."""
        journal = self.journal
        lines = [f"status={journal.get('status')} deviated={journal.get('deviated')}"]
        for run in journal.get("run", []):
            lines.append(f"{run.get('activity', {}).get('name')}: {run.get('status')} "
                         f"{str(run.get('output'))[:400]} "
                         f"{str(run.get('exception') or '')[-600:]}")
        after = (journal.get("steady_states") or {}).get("after") or {}
        for probe in after.get("probes", []):
            lines.append(f"after: {probe.get('activity', {}).get('name')} -> "
                         f"{probe.get('output')} tolerance_met={probe.get('tolerance_met')}")
        return "\n".join(lines)


def run_experiment(name: str, folder: Path, timeout: float = 420.0,
                   progress: Progress | None = None) -> ExperimentRun:
    """`chaos run` of the experiment; `progress` is told the drill's steps as the child runs
    them (through a file in `folder`)."""
    path = EXPERIMENTS / name
    journal = folder / "journal.json"
    reports = folder / "reports"
    told = folder / "progress.tsv"
    env = dict(os.environ, SOBERHARNESS_CHAOS_REPORTS=str(reports), PYTHONPATH=str(REPO))
    env.pop(PROGRESS_ENV, None)
    follower = None
    if progress is not None:
        env[PROGRESS_ENV] = str(told)
        follower = Follower(told, progress)
    try:
        # if the harness dies, chaostoolkit gets SIGTERM and its cleanups stop the servers;
        # the watchdog ends it a little later whatever its cleanups do
        proc = run_chaos(
            [str(CHAOS), "--no-log-file", "run", "--journal-path", str(journal), str(path)],
            timeout=timeout, env=env, cwd=folder,
            tick=None if follower is None else follower.poll)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"chaos run {name} took longer than {timeout:.0f}s") from None
    finally:
        if follower is not None:
            follower.poll()
    written = reports / summary.slug(json.loads(path.read_text())["title"])
    if written.exists():
        shutil.copytree(written, summary.REPORTS / written.name, dirs_exist_ok=True)
        summary.write_index(summary.REPORTS)
    if not journal.exists() or not (written / "summary.json").exists():
        raise HarnessError(f"chaos run {name} wrote no journal or summary: "
                           f"{proc.stderr.strip()[-1500:]}")
    return ExperimentRun(name, proc.returncode, proc.stderr, json.loads(journal.read_text()),
                         json.loads((written / "summary.json").read_text()))
