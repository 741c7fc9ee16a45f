"""Canaries: every text of the matrix world carries a unique marker, and the access model says
which viewers may know it (those who may read the row holding it).

The texts are the columns the rules hide with their row: profile handles, display names and
bios (hidden from anon where the profile is not public and from both sides of a block), post
bodies, video titles and comment bodies (hidden content, private owners, blocks). A marker is
`cnry` and eight hex digits, appended to the text by the superuser in a rolled-back transaction.
"""

from __future__ import annotations

import dataclasses
import uuid

from psycopg import sql

from soberharness.access.model import AccessModel
from soberharness.db import sql as rows
from soberharness.workload.invisible_changes import describe, matrix_viewers, names
from soberharness.world.entities import Comment, Entity, Post, User, Video
from soberharness.world.matrix_world import MatrixWorld

PATTERN = "cnry[0-9a-f]{8}"
NAMESPACE = uuid.UUID("5b0e7e11-0000-4000-8000-0000000ca4a7")

# The text columns of each kind of row, and how a marker is joined to the text.
TEXT_COLUMNS: dict[type, tuple[str, ...]] = {
    User: ("handle", "display_name", "bio"),
    Post: ("body",),
    Video: ("title",),
    Comment: ("body",),
}


@dataclasses.dataclass(frozen=True)
class Canary:
    marker: str
    source: str  # "public.posts.body of the hidden post of O_public"
    entity: Entity
    column: str
    knowers: frozenset[str]  # viewer labels the model lets read the row


def _marker(entity: Entity, column: str) -> str:
    return "cnry" + uuid.uuid5(NAMESPACE, f"{entity!r}/{column}").hex[:8]


def canaries(mw: MatrixWorld) -> list[Canary]:
    """A canary per text column of every row of the matrix world."""
    model, viewers, who = AccessModel(mw.world), matrix_viewers(mw), names(mw)
    out = []
    for entity in mw.world.entities():
        columns = TEXT_COLUMNS.get(type(entity), ())
        if not columns or (isinstance(entity, User) and not entity.has_profile):
            continue
        knowers = frozenset(label for label, v in viewers.items() if model.can_read(v, entity))
        row = rows.row_of(entity)
        for column in columns:
            out.append(Canary(_marker(entity, column),
                              f"{row.schema}.{row.table}.{column} of the "
                              f"{describe(entity, who, mw.world)}", entity, column, knowers))
    return out


def marking(canary: Canary) -> sql.Composed:
    """The superuser's statement appending the canary's marker to its text."""
    row = rows.row_of(canary.entity)
    col = sql.Identifier(canary.column)
    return sql.SQL("UPDATE {} SET {} = coalesce({}, '') || {} WHERE {}").format(
        row.name, col, col, sql.Literal(f" {canary.marker}"), row.where())
