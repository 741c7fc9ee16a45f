"""Judging what a refusal tells the writer: the error text of a refused matrix cell must not
name a user (by id or handle) whose profile the actor may not see (issue 20: an error naming
another user's relation is a finding). Pure: the matrix world and the cells' results in,
findings out, one per cell and user named."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from soberharness.access.model import AccessModel
from soberharness.records.results import CellResult
from soberharness.world.entities import Privacy, User, Viewer
from soberharness.world.matrix_world import MatrixWorld


@dataclasses.dataclass(frozen=True)
class RefusalLeak:
    """A refused cell whose error text names a user the actor may not see."""

    cell: str  # the cell's label
    named: str  # the handle of the user the text names

    def line(self) -> str:
        return f"{self.cell}: the refusal names {self.named}, whom the actor may not see"


def _names(text: str, user: User) -> bool:
    """Does `text` name `user`, by id or by handle (as a whole word)?"""
    if str(user.id) in text:
        return True
    return re.search(rf"(?<![\w]){re.escape(user.handle)}(?![\w])", text) is not None


def _unseen(model: AccessModel, viewer: Viewer, users: Iterable[User]) -> list[User]:
    return [u for u in users
            if u.id != viewer.user_id and not model.sees_profile(viewer, u.id)]


def refusal_leaks(mw: MatrixWorld, results: Iterable[CellResult]) -> list[RefusalLeak]:
    """One finding per refused cell and user its error text names whom the actor may not see."""
    model = AccessModel(mw.world)
    users = list(mw.world.users.values())
    found: list[RefusalLeak] = []
    for result in results:
        if result.actual or not result.detail:
            continue
        named = [u for u in users if _names(result.detail, u)]
        if not named:
            continue
        viewer = mw.viewer(result.cell.actor, Privacy(result.cell.privacy))
        found += [RefusalLeak(result.cell.label(), u.handle)
                  for u in _unseen(model, viewer, named)]
    return found
