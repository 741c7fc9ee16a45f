"""Errors the harness reports to a person as one clear line."""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum
from typing import NoReturn


class HarnessError(Exception):
    """A problem with configuration or environment, worded for the person running the harness.

    Its message is a single line; the pytest plugin prints it without a traceback.
    """


class TargetUnavailable(HarnessError):
    """The target could not be started or reached."""


class ServiceMissing(HarnessError):
    """The target does not offer a service a suite needs."""

    def __init__(self, service: str, target: str, why: str = "") -> None:
        self.service = service
        self.target = target
        detail = f": {why}" if why else ""
        super().__init__(f"service '{service}' is not available on target '{target}'{detail}")


class MigrationError(HarnessError):
    """A migration file failed to apply; names the file and the statement."""

    def __init__(self, path: str, statement: str, cause: str) -> None:
        self.path = path
        self.statement = statement
        self.cause = cause
        first = " ".join(statement.split())[:120]
        super().__init__(f"{path}: statement `{first}` failed: {cause}")


class DestructiveRefused(HarnessError):
    """A destructive suite was asked to run on a target that did not opt in."""


class BadInput(HarnessError):
    """Input the run cannot go on with (an environment variable, a steps file): the run ends
    with this one line and exit status 4, wherever it is found (collection, a fixture)."""


class Exit(IntEnum):
    """One meaning per exit status, for every command of the harness (README, "Exit codes")."""

    OK = 0  # checked, and what was checked holds
    FOUND = 1  # checked, and something does not hold (a failure, a difference, bad rows)
    INTERRUPTED = 2  # Ctrl-C
    INTERNAL = 3  # the harness (or pytest) broke
    BAD_INPUT = 4  # bad input, a bad option or an unusable target: one line saying which
    NOTHING_CHECKED = 5  # nothing was checked (all skipped, runs not comparable)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors exit with Exit.BAD_INPUT (argparse's own is 2, Ctrl-C's)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(Exit.BAD_INPUT, f"{self.prog}: error: {message}\n")
