"""The security state machine: actors acting one committed step at a time.

`machine_for(runner)` gives a Hypothesis RuleBasedStateMachine whose rules are the verbs of
soberharness.workload.steps. Each example starts from the pool signed up and nobody with a
profile (the initialize rule creates some profiles, as steps like the others); every step
goes through SequenceRunner.run, which commits it and checks the database against the model,
raising SequenceFailure (with the steps so far) on the first disagreement. Hypothesis then
shrinks to a minimal sequence; `on_failure`, when given, receives each failure (the last one
it receives is the minimal sequence Hypothesis reports).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from soberharness.checker.sequence import SequenceFailure, SequenceRunner
from soberharness.workload.step_strategies import StepDrawer
from soberharness.workload.steps import USERS, Step
from soberharness.world.entities import Privacy

OnFailure = Callable[[SequenceFailure], None]


class SecurityStateMachine(RuleBasedStateMachine):
    runner: ClassVar[SequenceRunner]
    on_failure: ClassVar[OnFailure | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.runner.reset()
        self.drawer = StepDrawer(self.runner.names)

    def _do(self, step: Step) -> None:
        self.drawer.used(step)
        try:
            self.runner.run(step)
        except SequenceFailure as failure:
            if self.on_failure is not None:
                self.on_failure(failure)
            raise

    def _draw(self, data: st.DataObject, strategy: st.SearchStrategy[Step]) -> None:
        self._do(data.draw(strategy))

    @initialize(data=st.data())
    def sign_up(self, data: st.DataObject) -> None:
        """Some of the pool create a profile first (steps like any other; others may later)."""
        for user in USERS:
            if data.draw(st.sampled_from([False, True, True]), label=f"{user} creates a profile"):
                privacy = data.draw(st.sampled_from(Privacy), label=f"{user} privacy")
                self._do(Step.of(user, "create_profile", privacy=privacy.value))

    @property
    def _state(self):  # type: ignore[no-untyped-def]
        return self.runner.state

    @rule(data=st.data())
    def create_profile(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.create_profile(self._state))

    @rule(data=st.data())
    def set_privacy(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.set_privacy(self._state))

    @rule(data=st.data())
    def follow(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.follow(self._state))

    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.accept(self._state))

    @rule(data=st.data())
    def unfollow(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.unfollow(self._state))

    @rule(data=st.data())
    def block(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.block(self._state))

    @rule(data=st.data())
    def unblock(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.unblock(self._state))

    @rule(data=st.data())
    def post(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.post(self._state))

    @rule(data=st.data())
    def upload_video(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.upload_video(self._state))

    @rule(data=st.data())
    def hide(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.hide(self._state))

    @rule(data=st.data())
    def unhide(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.hide(self._state, unhide=True))

    @rule(data=st.data())
    def comment(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.comment(self._state))

    @rule(data=st.data())
    def like(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.like(self._state))

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.delete(self._state))

    @rule(data=st.data())
    def upload(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.upload(self._state))

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.move(self._state))

    @rule(data=st.data())
    def delete_object(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.delete_object(self._state))

    @rule(data=st.data())
    def request_deletion(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.request_deletion(self._state))


def machine_for(
    runner: SequenceRunner, on_failure: OnFailure | None = None
) -> type[SecurityStateMachine]:
    """The machine class bound to one runner (one database connection)."""
    return type(  # type: ignore[return-value]
        "SecurityStateMachine",
        (SecurityStateMachine,),
        {"runner": runner, "on_failure": staticmethod(on_failure) if on_failure else None},
    )
