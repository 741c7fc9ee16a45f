"""Facts about a run that its folder, its page and the plugin need: where the run folders go,
the folder's name, and whether a chaos experiment failed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LATEST = "latest"


def reports_root(report_dir: Path) -> Path:
    """Where runs/ and index.html go for `--report-dir report_dir`: everything stays under the
    folder given (X/runs/, X/index.html), except in the layout of the default, where the
    latest run's files are `<root>/latest` beside `<root>/runs` (reports/latest, reports/runs,
    reports/index.html)."""
    return report_dir.parent if report_dir.name == LATEST else report_dir


def runs_root(report_dir: Path) -> Path:
    return reports_root(report_dir) / "runs"


def folder_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", run_id).strip("-.") or "run"


def chaos_failed(experiment: Mapping[str, Any]) -> bool:
    """A ledger violation where the stack was configured to lose nothing."""
    return experiment.get("ledger_ok") is False and not experiment.get("negative_control")
