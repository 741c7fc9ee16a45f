"""Non-interference inside the state machine, judged: which viewers the model says cannot see
a committed step, and which of them nevertheless read something different after it.

A viewer is blind to a step when, by the access model, it can read none of the rows the step
removed or changed (in the world before the step) nor any it added or changed (in the world
after) nor any row an allowed write of the step wrote, and every row it may read is the same
before and after. For a blind viewer, the digest of its whole readable snapshot (one digest
per relation, soberharness.runner.noninterference's) must not move; a relation whose digest
moved is a finding naming the step (the sequence's last), the viewer and the relation.
Pure: the reading is soberharness.runner.sequence's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from soberharness.access.model import AccessModel
from soberharness.records.noninterference import Snapshot
from soberharness.world.entities import Entity, User, Viewer, World


@dataclasses.dataclass(frozen=True)
class BlindRead:
    """A viewer the model says cannot see the step, with its snapshot before and after."""

    viewer: Viewer
    before: Snapshot
    after: Snapshot


def _rows(world: World) -> set[Entity]:
    """Every row of the world (a user without a profile is no row)."""
    return {e for e in world.entities() if not (isinstance(e, User) and not e.has_profile)}


def blind_viewers(
    before: World, after: World, viewers: Sequence[Viewer], written: Collection[Entity] = ()
) -> list[Viewer]:
    """The viewers (of `viewers`, in order) the model says cannot observe the change from
    `before` to `after`; `written` are the rows the step's allowed writes wrote (a row written
    with its own values is still written: its timestamps move)."""
    old, new = _rows(before), _rows(after)
    gone, came = (old - new) | set(written), (new - old) | set(written)
    was, now = AccessModel(before), AccessModel(after)
    return [
        v for v in viewers
        if not any(was.can_read(v, e) for e in gone)
        and not any(now.can_read(v, e) for e in came)
        and was.visible(v) == now.visible(v)
    ]


def moved(read: BlindRead) -> list[tuple[str, str | None, str | None]]:
    """(relation, digest before, digest after) of each relation whose digest moved, by name."""
    names = sorted(set(read.before) | set(read.after))
    return [(r, read.before.get(r), read.after.get(r)) for r in names
            if read.before.get(r) != read.after.get(r)]
