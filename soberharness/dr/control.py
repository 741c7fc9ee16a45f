"""chaostoolkit control of the drills: starts the drill's stack before the experiment, and
afterwards writes the chaos summary (with the drill's results under "dr": RPO, RTO, figures,
the runbook steps it ran) under reports/chaos/ and stops everything.

In an experiment:
  "controls": [{"name": "dr-stack", "provider": {"type": "python",
      "module": "soberharness.dr.control", "arguments": {"drill": "failover", "mode": "sync"}}}]
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chaoslib.exceptions import InterruptExecution

from soberharness.chaos import summary
from soberharness.chaos.control import write_experiment_summary
from soberharness.chaos.outputs import keep_outputs_in
from soberharness.dr import actions
from soberharness.errors import HarnessError

logger = logging.getLogger("chaostoolkit")


def before_experiment_control(context: dict[str, Any], drill: str = "pitr", mode: str = "sync",
                              **_: Any) -> None:
    keep_outputs_in(summary.REPORTS)  # journal.json and chaostoolkit.log, not in the cwd
    try:
        described = actions.start_drill_stack(drill, mode)
    except HarnessError as exc:
        actions.stop_drill_stack()
        raise InterruptExecution(f"drill stack did not start: {exc}") from None
    logger.info(f"soberharness drill stack up: {described}")


def after_experiment_control(context: dict[str, Any], state: dict[str, Any] | None = None,
                             **_: Any) -> None:
    try:
        out = write_experiment_summary(context, state)
        written = out / "summary.json"
        doc = json.loads(written.read_text())
        doc["dr"] = actions.DRILL.result_json()
        written.write_text(json.dumps(doc, indent=2, default=str))
        logger.info(f"soberharness drill reports in {out}")
    finally:
        actions.stop_drill_stack()


def cleanup_control() -> None:
    actions.stop_drill_stack()
