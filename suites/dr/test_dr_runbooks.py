"""Runbooks as code: docs/runbooks/ and the drills run the same commands in the same order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from soberharness.dr import failover, pitr
from soberharness.dr.experiments import ExperimentRun
from soberharness.dr.steps import Step, disagreements, load_runbook, parse_runbook

# Checks of the repository's own files and judges: nothing about the target (report.verdict).
pytestmark = pytest.mark.target_independent

RUNBOOKS = {"restore-to-a-time": (pitr.RUNBOOK_PATH, pitr.RUNBOOK),
            "failover": (failover.RUNBOOK_PATH, failover.RUNBOOK)}
EXPERIMENT = {"restore-to-a-time": "pitr-restore-to-a-time.json",
              "failover": "failover-synchronous.json"}


@pytest.mark.parametrize("name", sorted(RUNBOOKS))
def test_runbook_lists_the_drills_steps(name: str) -> None:
    path, steps = RUNBOOKS[name]
    assert disagreements(load_runbook(path), steps) == []


@pytest.mark.parametrize("name", sorted(RUNBOOKS))
def test_edited_runbook_step_is_reported(name: str, tmp_path: Path) -> None:
    """Planted: one command changed, one step dropped; each reported by its number."""
    path, steps = RUNBOOKS[name]
    text = path.read_text()
    changed = text.replace(steps[1].command, steps[1].command + " --force", 1)
    edited = parse_runbook(changed)
    assert disagreements(edited, steps) == [
        f"step 2 '{steps[1].name}': runbook says `{steps[1].command} --force`, drill runs "
        f"`{steps[1].command}`"
    ]
    dropped = [s for s in parse_runbook(text) if s.key != steps[-1].key]
    assert disagreements(dropped, steps) == [
        f"step {len(steps)} '{steps[-1].name}': run by the drill, not in the runbook"
    ]


def test_parser_takes_numbered_sections_only() -> None:
    text = ("# T\n\n```sh\nnot a step\n```\n\n## 1. First\n\nprose\n\n```sh\nls \\\n  -l\n```\n"
            "\n```sh\nsecond block ignored\n```\n\n## Aside\n\n```sh\nignored\n```\n"
            "## 2. Second\n```\necho {x}\n```\n")
    assert parse_runbook(text) == [Step("First", "ls -l"), Step("Second", "echo {x}")]


def _collapse(steps: list[Step]) -> list[Step]:
    """A step run once per server (find the most advanced standby) counts once."""
    out: list[Step] = []
    for step in steps:
        if not out or out[-1] != step:
            out.append(step)
    return out


@pytest.mark.destructive
@pytest.mark.needs("postgres")
@pytest.mark.dr_experiment(EXPERIMENT["restore-to-a-time"])
@pytest.mark.dr_experiment(EXPERIMENT["failover"])
@pytest.mark.parametrize("name", sorted(RUNBOOKS))
def test_the_drill_ran_the_runbook(name: str, drill: Callable[[str], ExperimentRun]) -> None:
    """What the drill actually ran (recorded in its report), step for step as written."""
    path, _ = RUNBOOKS[name]
    ran = _collapse([Step(s["step"], s["command"]) for s in drill(EXPERIMENT[name]).dr["steps"]])
    # the PITR drill repeats the last step until the server is out of recovery
    assert disagreements(load_runbook(path), ran) == []
