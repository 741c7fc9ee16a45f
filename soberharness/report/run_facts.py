"""Two facts about a run that its folder and its page both need: the folder's name, and
whether a chaos experiment failed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def folder_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", run_id).strip("-.") or "run"


def chaos_failed(experiment: Mapping[str, Any]) -> bool:
    """A ledger violation where the stack was configured to lose nothing."""
    return experiment.get("ledger_ok") is False and not experiment.get("negative_control")
