"""How the config checkers talk to a shell: one line per problem, exit 0 / 1 / 4."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from soberharness.errors import Exit, HarnessError


def report_problems(source: Path, check: Callable[[], list[str]]) -> int:
    """Run `check`; print `source: problem` lines (exit 1) or `ok` (exit 0); a file that
    cannot be read at all is one line on stderr (exit 4, bad input)."""
    try:
        problems = check()
    except HarnessError as exc:
        print(exc, file=sys.stderr)
        return Exit.BAD_INPUT
    for line in problems:
        print(f"{source}: {line}")
    if problems:
        return 1
    print("ok")
    return 0
