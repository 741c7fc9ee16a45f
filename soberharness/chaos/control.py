"""chaostoolkit control: starts the local chaos stack before the experiment, and afterwards
writes the journal and the summary under reports/chaos/ and stops everything. chaostoolkit's
own journal.json and chaostoolkit.log go under reports/chaos/ too (chaos/outputs.py).

In an experiment:
  "controls": [{"name": "local-stack", "provider": {"type": "python",
      "module": "soberharness.chaos.control",
      "arguments": {"config": "clean", "toxiproxy": false}}}]
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from chaoslib.exceptions import InterruptExecution

from soberharness.chaos import actions, summary
from soberharness.chaos.outputs import keep_outputs_in
from soberharness.chaos.progress_file import progress_from_env
from soberharness.errors import HarnessError

logger = logging.getLogger("chaostoolkit")


def before_experiment_control(context: dict[str, Any], config: str = "clean",
                              toxiproxy: bool = False, writers: int = 3, small_disk: bool = False,
                              **_: Any) -> None:
    keep_outputs_in(summary.REPORTS)  # journal.json and chaostoolkit.log, not in the cwd
    METHOD_DONE[0] = 0
    try:
        described = actions.start_local_stack(config=config, toxiproxy=toxiproxy, writers=writers,
                                              small_disk=small_disk)
    except HarnessError as exc:
        raise InterruptExecution(f"chaos stack did not start: {exc}") from None
    logger.info(f"soberharness chaos stack up: {described}")


def write_experiment_summary(context: dict[str, Any], state: dict[str, Any] | None) -> Path:
    """Heal every fault, stop the ledger and write the run's chaos summary; its folder."""
    actions.heal_all()
    actions.stop_ledger()
    run = actions.RUN
    status = None
    if state is not None:
        status = "deviated" if state.get("deviated") else state.get("status")
    return summary.write_run(
        str(context.get("title", "experiment")),
        run.stack.describe() if run.stack else None,
        run.records,
        run.checks,
        ledger=run.ledger,
        journal=state,
        status=status,
    )


def after_experiment_control(context: dict[str, Any], state: dict[str, Any] | None = None,
                             **_: Any) -> None:
    try:
        out = write_experiment_summary(context, state)
        for line in summary.end_lines(json.loads((out / "summary.json").read_text())):
            logger.info(line)
        logger.info(f"soberharness chaos reports in {out}")
    finally:
        actions.stop_local_stack()


def cleanup_control() -> None:
    actions.stop_local_stack()


# -- progress: the method's activities (faults, heals, waits) done of all, told to the file the
# harness named (progress_file); the steady state's probes are named in the note, not counted.
METHOD_DONE: list[int] = [0]


def _in(part: str, context: dict[str, Any], experiment: dict[str, Any] | None) -> bool:
    return any(context == activity for activity in (experiment or {}).get(part, []))


def _in_method(context: dict[str, Any], experiment: dict[str, Any] | None) -> bool:
    return _in("method", context, experiment)


def activity_note(context: dict[str, Any], experiment: dict[str, Any] | None) -> str:
    """A method activity by its name; a rollback or a steady-state probe said as such."""
    name = str(context.get("name", "activity"))
    if _in_method(context, experiment):
        return name
    return f"rollback: {name}" if _in("rollbacks", context, experiment) else f"steady state: {name}"


def _tell(experiment: dict[str, Any] | None, note: str) -> None:
    progress = progress_from_env()
    if progress is not None:
        progress(METHOD_DONE[0], len((experiment or {}).get("method", [])), note)


def before_activity_control(context: dict[str, Any], experiment: dict[str, Any] | None = None,
                            **_: Any) -> None:
    _tell(experiment, activity_note(context, experiment))


def after_activity_control(context: dict[str, Any], experiment: dict[str, Any] | None = None,
                           **_: Any) -> None:
    if _in_method(context, experiment):
        METHOD_DONE[0] += 1


def after_method_control(context: dict[str, Any], **_: Any) -> None:
    _tell(context, "steady state after the faults")
