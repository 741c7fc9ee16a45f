"""Judging the run-end leftover check: one line per kind of thing a run left on a target.

Pure: `workload/leftovers.py` finds the things by the run's id; this says what to print.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Leftover:
    """Items of one kind (a table) that still carry the run's id."""

    table: str
    count: int
    names: tuple[str, ...]  # the first few of them


def leftover_lines(leftovers: list[Leftover], run_id: str, target: str) -> list[str]:
    """One line per kind left behind (empty: nothing was)."""
    lines = []
    for left in leftovers:
        if left.count <= 0:
            continue
        shown = ", ".join(left.names)
        more = f", and {left.count - len(left.names)} more" if left.count > len(left.names) else ""
        lines.append(f"soberharness: run {run_id} left {left.count} in {left.table} on target "
                     f"'{target}': {shown}{more}")
    return lines
