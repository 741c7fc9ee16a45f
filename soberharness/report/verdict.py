"""Whether a run checked anything about its target: the rule behind exit status 5.

A run passes only when at least one test *about the target* reached a verdict. A test that
checks nothing of the target (the repository's own files, e.g. that scenarios/ is not empty)
says so with `@pytest.mark.target_independent`; such tests alone never make a run green. A
test without the marker counts as a check of the target (the default: nothing is assumed
harmless).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

MARKER = "target_independent"
MARKER_HELP = (f"{MARKER}: the test checks nothing about the target (it alone never makes a "
               "run pass)")
NOT_CHECKED = ("skipped", "xfailed")


class Case(Protocol):
    outcome: str
    about_target: bool


def about_target(report: Any) -> bool:
    """False for a pytest report of a test marked target_independent (its keywords hold the
    marker names, also after the trip from an xdist worker)."""
    return MARKER not in (getattr(report, "keywords", None) or {})


def checked_the_target(cases: Iterable[Case]) -> bool:
    """At least one test about the target reached a verdict (passed, failed, error)."""
    return any(c.about_target and c.outcome not in NOT_CHECKED for c in cases)


def nothing_checked_line(cases: list[Case], prefix: str, allowed: bool) -> str:
    """The line a run prints when nothing about its target was checked."""
    skipped = sum(c.outcome in NOT_CHECKED for c in cases)
    independent = sum(not c.about_target and c.outcome not in NOT_CHECKED for c in cases)
    what = (f"every selected test was skipped ({len(cases)}): nothing was checked"
            if independent == 0 else
            f"nothing about the target was checked ({skipped} skipped, {independent} "
            "target-independent)")
    return (f"{prefix} {what}"
            + (" (accepted: --allow-all-skipped)" if allowed else
               "; exit status 5 (--allow-all-skipped accepts such a run)"))
