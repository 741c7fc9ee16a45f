"""Ctrl-C while pytest is still starting (importing its plugins: seconds, longer under load)
ends the run with one line and exit status 2, as Ctrl-C does later in a run, instead of a
KeyboardInterrupt traceback.

Loaded before the installed plugins (`-p soberharness.early_interrupt` in pyproject's addopts,
which pytest reads before it imports them; after the coverage plugin, so that it is measured).
It imports nothing heavy. Once pytest
configures the run it hands SIGINT back to Python, so pytest's own interrupt handling (and
report.run_end's one line) applies from there on. Nothing has been started before that, so
there is nothing to stop.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import pytest

LINE = "soberharness: interrupted (Ctrl-C) while pytest was starting; nothing was started"
EXIT_STATUS = 2  # pytest's INTERRUPTED, as for Ctrl-C later in a run


def _interrupted(_signum: int, _frame: FrameType | None) -> None:
    sys.stdout.flush()
    sys.stderr.write(LINE + "\n")
    sys.stderr.flush()
    os._exit(EXIT_STATUS)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted)
