"""SIGTERM (a cancelled CI job, `kill`) ends a run as Ctrl-C does, and says so.

The first SIGTERM raises `Terminated` (a KeyboardInterrupt) in the main thread: pytest tears
the fixtures down (targets stop), the run folder, summary.json and junit.xml record the run
as interrupted, the terminal's last line says `soberharness: terminated (SIGTERM)`, and the
process exits 143 (128 + SIGTERM), as a process killed by it would. Should the unwinding not
finish within GRACE_S, the harness's cleanups run and the process exits 143 anyway; a second
SIGTERM stops it at once (targets.lifecycle).
"""

from __future__ import annotations

import os
import threading

from soberharness.targets import lifecycle

EXIT_STATUS = 143
GRACE_S = 30.0
LINE = "soberharness: terminated (SIGTERM); everything the harness started is stopped"
STOPPED_BY = "terminated (SIGTERM) before the run finished"


class Terminated(KeyboardInterrupt):
    """The run got SIGTERM."""


def _give_up() -> None:
    lifecycle.run_cleanups()
    os._exit(EXIT_STATUS)


def _terminate(_signum: int) -> None:
    timer = threading.Timer(GRACE_S, _give_up)
    timer.daemon = True
    timer.start()
    raise Terminated()


def install() -> None:
    """From pytest_configure (the main thread)."""
    lifecycle.on_terminate(_terminate)
