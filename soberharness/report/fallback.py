"""Where the reports go when --report-dir cannot be written (a read-only checkout): a folder
of the temporary directory instead, said in one line, and the run's verdict stays what the
tests made it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from soberharness.report.run_facts import reports_root, runs_root

PREFIX = "soberharness:"


def _writable(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def fallback_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"soberharness-reports-{os.getuid()}" / "latest"


def ensure_writable_report_dir(config: pytest.Config) -> str:
    """'' when --report-dir and the runs folder beside it can be written; else point the
    option at a fallback folder and return the line saying so."""
    folder = Path(config.getoption("--report-dir"))
    try:
        for place in (folder, runs_root(folder)):
            _writable(place)
        return ""
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        bad = exc.filename or folder
    fallback = fallback_folder()
    try:
        _writable(fallback)
        _writable(runs_root(fallback))
    except OSError as exc:
        return (f"{PREFIX} cannot write reports to {bad} ({why}) nor to {fallback} "
                f"({exc.strerror}): no reports for this run")
    config.option.report_dir = str(fallback)
    return (f"{PREFIX} cannot write reports to {bad} ({why}): wrote them to "
            f"{reports_root(fallback)} "
            "instead (--report-dir chooses the folder)")


def write_failed_line(exc: OSError) -> str:
    return (f"{PREFIX} could not write the reports: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else ""))
