"""The rollback drill (seed 4.1.3): deploy a release, run a chosen subset of the functions'
checks on it, deploy a newer release, run them again, roll back, run them once more. The drill
records each step's deployed versions and findings; whether the red and green came where they
should is the test's to say.

The subset (CHECKS) is a registry: name -> a check that calls the deployed main service and
returns findings as lines (function, actor, row), empty when green."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from soberharness.checker.functions import judge_export, judge_milestone
from soberharness.clients.functions import FunctionsClient
from soberharness.targets.services.functions_release import FunctionsDeployment
from soberharness.workload.functions_calls import export_calls, milestone_calls, row_names
from soberharness.world.matrix_world import MatrixWorld

AT = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)  # the milestones' instant
Check = Callable[[FunctionsClient, MatrixWorld, str], list[str]]


def _export(client: FunctionsClient, mw: MatrixWorld, secret: str) -> list[str]:
    names = row_names(mw)
    return [f.line() for c in export_calls(client, mw, secret)
            for f in judge_export(c, mw.world, names)]


def _milestones(client: FunctionsClient, mw: MatrixWorld, secret: str) -> list[str]:
    return [f.line() for c, target in milestone_calls(client, mw, secret, AT)
            for f in judge_milestone(c, mw.world, target, AT)]


CHECKS: dict[str, Check] = {
    "export-my-data per actor and token": _export,
    "milestones per actor and token": _milestones,
}


@dataclasses.dataclass(frozen=True)
class DrillStep:
    action: str  # "deploy <release>" or "rollback"
    versions: dict[str, str]  # what the main service reports it serves
    findings: list[str]

    @property
    def green(self) -> bool:
        return not self.findings


def run_checks(url: str, mw: MatrixWorld, secret: str) -> list[str]:
    with FunctionsClient(url) as client:
        return [f"{name}: {line}" for name, check in CHECKS.items()
                for line in check(client, mw, secret)]


def rollback_drill(deployment: FunctionsDeployment, good: Path, bad: Path,
                   mw: MatrixWorld, secret: str) -> list[DrillStep]:
    """deploy good, check; deploy bad, check; roll back, check."""
    steps = []
    for action, do in ((f"deploy {good.name}", lambda: deployment.deploy(good)),
                       (f"deploy {bad.name}", lambda: deployment.deploy(bad)),
                       ("rollback", deployment.rollback)):
        versions = do()
        steps.append(DrillStep(action, versions, run_checks(deployment.url, mw, secret)))
    return steps
