"""Which rows each viewer reads, per table: what the database showed against the access model.
Pure: reading the rows as each viewer is soberharness.runner.visibility."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping

from soberharness.access.model import TABLES, AccessModel, Key, key_of, table_of
from soberharness.world.entities import User, Viewer, World


@dataclasses.dataclass(frozen=True)
class VisibilityDiff:
    viewer: Viewer
    table: str
    missing: frozenset[Key]  # the model says visible, the database hid it
    extra: frozenset[Key]  # the database showed it, the model says hidden

    def describe(self) -> str:
        who = self.viewer.role.value
        if self.viewer.user_id:
            who += f" {self.viewer.user_id}" + (" (moderator)" if self.viewer.moderator else "")
        return (
            f"{who} reading {self.table}: missing {sorted(map(str, self.missing))}, "
            f"extra {sorted(map(str, self.extra))}"
        )


def compare(world: World, seen: Mapping[Viewer, Mapping[str, set[Key]]]) -> list[VisibilityDiff]:
    """Each viewer's reads (`seen`, in the order read) against what the model lets them read;
    rows of others (a shared database) are left out."""
    model = AccessModel(world)
    ours = world_keys(world)
    diffs: list[VisibilityDiff] = []
    for viewer, actual in seen.items():
        expected = model.visible(viewer)
        for table in TABLES:
            want = {_normal(k) for k in expected.get(table, set())}
            got = actual[table] & ours[table]  # a shared database holds others' rows
            if want != got:
                diffs.append(
                    VisibilityDiff(viewer, table, frozenset(want - got), frozenset(got - want))
                )
    return diffs


def world_keys(world: World) -> dict[str, set[Key]]:
    """Keys of every row of `world`, per table, in the shape `observed` returns."""
    keys: dict[str, set[Key]] = {table: set() for table in TABLES}
    for entity in world.entities():
        if isinstance(entity, User) and not entity.has_profile:
            continue
        keys[table_of(entity)].add(_normal(key_of(entity)))
    return keys


def _normal(key: Key) -> Key:
    if isinstance(key, tuple):
        return (uuid.UUID(str(key[0])), uuid.UUID(str(key[1])))
    return uuid.UUID(str(key))
