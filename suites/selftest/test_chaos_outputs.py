"""`chaos run` keeps chaostoolkit's journal.json and chaostoolkit.log under reports/chaos/,
not in the directory it was started from, unless the command line chose their places."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from soberharness.chaos.outputs import keep_outputs_in


@pytest.fixture
def chaostoolkit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A repository root as cwd, with the log handler chaostoolkit's CLI opens there."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    logger = logging.getLogger("chaostoolkit")
    saved = list(logger.handlers)
    handler = RotatingFileHandler(root / "chaostoolkit.log")  # as chaoslib.log does
    handler.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.info("before the control")
    yield root, logger
    for h in list(logger.handlers):
        if h not in saved:
            logger.removeHandler(h)
            h.close()


def test_journal_and_log_go_under_reports_chaos(tmp_path: Path, chaostoolkit_log) -> None:
    root, logger = chaostoolkit_log
    reports = tmp_path / "repo" / "reports" / "chaos"
    keep_outputs_in(reports, ["chaos", "run", "chaos/postgres-sigstop.json"])
    logger.info("after the control")
    Path("./journal.json").write_text("{}")  # what chaostoolkit does at the end of the run
    assert sorted(p.name for p in root.iterdir()) == ["reports"]
    log = (reports / "chaostoolkit.log").read_text()
    assert "before the control" in log and "after the control" in log
    assert (reports / "journal.json").exists()


def test_paths_chosen_on_the_command_line_are_left_alone(tmp_path: Path,
                                                         chaostoolkit_log) -> None:
    root, _ = chaostoolkit_log
    keep_outputs_in(tmp_path / "reports", ["chaos", "--log-file", "mine.log", "run",
                                           "--journal-path", "j.json", "x.json"])
    assert Path.cwd() == root and (root / "chaostoolkit.log").exists()
