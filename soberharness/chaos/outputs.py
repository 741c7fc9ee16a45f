"""Where `chaos run` leaves chaostoolkit's own files: under reports/chaos/, not where it started.

chaostoolkit writes its journal to `./journal.json` and its log to `chaostoolkit.log`, both in
the directory it was started from (the repository root, for a person following the README).
Unless the command line chose for itself (--journal-path, --log-file, --no-log-file,
--change-dir), the experiment's control calls `keep_outputs_in(reports/chaos)` first: it moves
the log file chaostoolkit already opened there, and makes that folder the working directory for
the rest of the run, where chaostoolkit's default `./journal.json` then lands (its own
--change-dir option does the same, earlier). Every path the harness uses is absolute.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

LOG_NAME = "chaostoolkit.log"


def _given(argv: Sequence[str], *options: str) -> bool:
    return any(arg == o or arg.startswith(o + "=") for arg in argv for o in options)


def keep_outputs_in(folder: Path, argv: Sequence[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    folder.mkdir(parents=True, exist_ok=True)
    if not _given(argv, "--log-file", "--no-log-file", "--change-dir"):
        _move_log(Path.cwd() / LOG_NAME, folder / LOG_NAME)
    if not _given(argv, "--journal-path", "--change-dir"):
        os.chdir(folder)


def _move_log(default: Path, target: Path) -> None:
    logger = logging.getLogger("chaostoolkit")
    for handler in list(logger.handlers):
        if not (isinstance(handler, logging.FileHandler)
                and Path(handler.baseFilename) == default):
            continue
        moved = logging.FileHandler(target, encoding=handler.encoding)
        moved.setLevel(handler.level)
        moved.setFormatter(handler.formatter)
        logger.removeHandler(handler)
        handler.close()
        with target.open("ab") as out:
            out.write(default.read_bytes())
        default.unlink()
        logger.addHandler(moved)
