"""Shrinking a failing sequence to a minimal one by replaying it without some steps.

Steps name their rows explicitly, so a step means the same thing whatever is left out
before it: leaving steps out and replaying is sound. The failing step is kept as the last
one; earlier steps are removed in halves, quarters, ... down to single steps (delta
debugging) as long as the replay still fails at that last step with the same kinds of
findings, and passes every check before it. The result is 1-minimal: leaving out any one
remaining step makes the failure go away (or turn into a different one).
"""

from __future__ import annotations

from collections.abc import Sequence

from soberharness.checker.sequence import SequenceFailure
from soberharness.records.steps import Step
from soberharness.runner.sequence import SequenceRunner


def signature(failure: SequenceFailure) -> tuple[str, frozenset[str]]:
    """What makes two failures the same one: the failing step and the kinds of findings."""
    return failure.step.line(), frozenset(f.kind for f in failure.findings)


def replay(runner: SequenceRunner, steps: Sequence[Step]) -> SequenceFailure | None:
    """Replay from a fresh start; the failure, or None when every step passes."""
    try:
        runner.replay(steps)
    except SequenceFailure as failure:
        return failure
    return None


def shrink(runner: SequenceRunner, failure: SequenceFailure) -> SequenceFailure:
    """The failure of a minimal sequence that fails like `failure` does."""
    wanted = signature(failure)
    best = failure
    prefix, last = list(failure.steps[:-1]), failure.steps[-1]
    size = max(1, len(prefix) // 2)
    while prefix and size >= 1:
        removed_any = False
        start = 0
        while start < len(prefix):
            candidate = prefix[:start] + prefix[start + size:]
            found = replay(runner, [*candidate, last])
            if found is not None and signature(found) == wanted and len(found.steps) == len(
                candidate
            ) + 1:
                prefix, best, removed_any = candidate, found, True
            else:
                start += size
        if not removed_any or size > 1:
            size //= 2
    runner.clean()
    return best
