"""The access matrix's verdicts: was a cell's request let through, and does the independent
access model allow it. Pure: the running is soberharness.runner.matrix."""

from __future__ import annotations

from typing import Protocol

from soberharness.access.model import AccessModel
from soberharness.records.outcome import Outcome
from soberharness.records.results import Op
from soberharness.world.entities import Entity, Viewer, World


def allowed(op: Op, outcome: Outcome) -> bool:
    """Did the database let the request through? Reads must return the row; writes must
    succeed and (for update/delete) touch exactly the one row."""
    if not outcome.ok:
        return False
    if op is Op.SELECT:
        return len(outcome.rows) == 1
    if op is Op.INSERT:
        return True
    return outcome.rowcount == 1


def detail(op: Op, outcome: Outcome) -> str:
    if outcome.error:
        return outcome.error
    if op is Op.SELECT:
        return f"{len(outcome.rows)} row(s) returned"
    if op is Op.INSERT:
        return "inserted"
    return f"{outcome.rowcount} row(s) affected"


class Attempt(Protocol):
    """What one actor attempts (workload.matrix_cases.Action), as the model judges it."""

    @property
    def op(self) -> Op: ...
    @property
    def target(self) -> Entity: ...
    @property
    def after(self) -> Entity | None: ...
    @property
    def removed(self) -> tuple[Entity, ...]: ...
    @property
    def added(self) -> tuple[Entity, ...]: ...
    def world(self, base: World) -> World: ...


class Actor(Protocol):
    """Who attempts it (workload.matrix_cases.Ctx): the viewer the model judges."""

    @property
    def viewer(self) -> Viewer: ...


class ExpectationCache:
    """One AccessModel per distinct world a case prepares."""

    def __init__(self, base: World, model_class: type[AccessModel] = AccessModel) -> None:
        self.base = base
        self.model_class = model_class  # a subclass with a planted rule predicts a defect
        self._models: dict[tuple[object, ...], AccessModel] = {}

    def model(self, action: Attempt) -> AccessModel:
        key = (action.removed, action.added)
        if key not in self._models:
            self._models[key] = self.model_class(action.world(self.base))
        return self._models[key]

    def expected(self, ctx: Actor, action: Attempt) -> bool:
        model = self.model(action)
        match action.op:
            case Op.SELECT:  # a row that is not there is read by nobody
                return model.exists(action.target) and model.can_read(ctx.viewer, action.target)
            case Op.INSERT:
                return model.can_insert(ctx.viewer, action.target)
            case Op.UPDATE:
                assert action.after is not None
                return model.can_update(ctx.viewer, action.target, action.after)
            case Op.DELETE:
                return model.can_delete(ctx.viewer, action.target)
