"""The security state machine: actors acting one committed step at a time.

`machine_for(runner)` gives a Hypothesis RuleBasedStateMachine whose rules are the verbs of
soberharness.workload.steps. Each example starts from the pool signed up and nobody with a
profile (the initialize rule creates some profiles, as steps like the others); every step
goes through SequenceRunner.run, which commits it and checks the database against the model,
raising SequenceFailure (with the steps so far) on the first disagreement. Hypothesis then
shrinks to a minimal sequence; `on_failure`, when given, receives each failure (the last one
it receives is the minimal sequence Hypothesis reports).

Hypothesis's own shrinking is off: a step draws its rows from the state, so dropping an
earlier step changes what later draws mean, and every attempt replays a whole committed
sequence. Steps are explicit instead, so `search` shrinks the first failing sequence by
replaying it without steps (soberharness.checker.sequence_shrink), which is sound and fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from soberharness.access.transitions import SequenceState
from soberharness.checker.sequence import SequenceFailure, SequenceRunner
from soberharness.checker.sequence_shrink import shrink
from soberharness.workload.step_strategies import StepDrawer
from soberharness.workload.steps import USERS, Step
from soberharness.world.entities import Privacy

OnFailure = Callable[[SequenceFailure], None]


def _has_content(machine: SecurityStateMachine) -> bool:
    world = machine._state.world
    return bool(world.posts or world.videos)


def _has_hidden(machine: SecurityStateMachine) -> bool:
    world = machine._state.world
    return any(r.hidden for r in (*world.posts.values(), *world.videos.values()))


class SecurityStateMachine(RuleBasedStateMachine):
    """Rules that act on existing rows wait until some exist (their draws still reach
    rows that are gone, and actors who may not act)."""

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
    def _state(self) -> SequenceState:
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

    @precondition(lambda m: any(f.status.value == 'pending' for f in m._state.world.follows))
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.accept(self._state))

    @precondition(lambda m: bool(m._state.world.follows))
    @rule(data=st.data())
    def unfollow(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.unfollow(self._state))

    @rule(data=st.data())
    def block(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.block(self._state))

    @precondition(lambda m: bool(m._state.world.blocks))
    @rule(data=st.data())
    def unblock(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.unblock(self._state))

    @rule(data=st.data())
    def post(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.post(self._state))

    @rule(data=st.data())
    def upload_video(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.upload_video(self._state))

    @precondition(_has_content)
    @rule(data=st.data())
    def hide(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.hide(self._state))

    @precondition(_has_hidden)
    @rule(data=st.data())
    def unhide(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.hide(self._state, unhide=True))

    @precondition(_has_content)
    @rule(data=st.data())
    def comment(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.comment(self._state))

    @precondition(_has_content)
    @rule(data=st.data())
    def like(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.like(self._state))

    @precondition(_has_content)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.delete(self._state))

    @rule(data=st.data())
    def upload(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.upload(self._state))

    @precondition(lambda m: bool(m._state.world.objects))
    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        self._draw(data, self.drawer.move(self._state))

    @precondition(lambda m: bool(m._state.world.objects))
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


_COMMON = dict(
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)

# How hard to look: `ci` keeps the security suite's budget (about 10 s on 2 cores), `nightly`
# looks much longer and deeper.
DEPTHS: dict[str, settings] = {
    "ci": settings(max_examples=30, stateful_step_count=25, **_COMMON),  # type: ignore[arg-type]
    "nightly": settings(max_examples=600, stateful_step_count=60, **_COMMON),  # type: ignore[arg-type]
}


def search(runner: SequenceRunner, how: settings) -> SequenceFailure | None:
    """Run the machine; the first failing sequence, shrunk to a minimal one, or None."""
    try:
        run_state_machine_as_test(machine_for(runner), settings=how)
    except SequenceFailure as failure:
        return shrink(runner, failure)
    finally:
        runner.clean()
    return None
