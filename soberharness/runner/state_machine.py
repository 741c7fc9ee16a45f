"""The security state machine: actors acting one committed step at a time.

`machine_for(runner)` gives a Hypothesis RuleBasedStateMachine. Each example starts from the
pool signed up and nobody with a profile; the initialize rule creates some profiles (steps
like the others), then every step is a verb of soberharness.workload.steps drawn by the
weights its VERBS entry gives (verbs that act on existing rows wait until some exist; their
draws still reach rows that are gone, and actors who may not act). Every step is sent by
SequenceRunner.send, which commits it and reads the database back in one message and returns
at once: Hypothesis draws the next step (from the model's state) while the server works. Before
the next step is sent (or when the sequence ends) the step is collected and judged
(soberharness.checker.sequence.check), raising SequenceFailure (with the steps so far, the
failing step last) on the first disagreement: nothing is committed after a failing step.

One rule draws the verb, rather than one rule per verb: Hypothesis enables a random subset of
rules per example (swarm testing), and the transitions that matter need several verbs
together (follow then block, follow a private user then post).

Hypothesis's own shrinking is off: a step draws its rows from the state, so dropping an
earlier step changes what later draws mean, and every attempt replays a whole committed
sequence. Steps are explicit instead, so `search` shrinks the first failing sequence by
replaying it without steps (soberharness.runner.sequence_shrink), which is sound and fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from soberharness.checker.sequence import SequenceFailure, check
from soberharness.records.progress import Progress
from soberharness.records.steps import USERS, Step
from soberharness.runner.sequence import SequenceRunner
from soberharness.runner.sequence_shrink import shrink
from soberharness.workload.step_strategies import StepDrawer
from soberharness.workload.steps import DRAWS, Draw
from soberharness.world.entities import Privacy

OnFailure = Callable[[SequenceFailure], None]
_DRAW: dict[str, Draw] = {d.label: d for d in DRAWS}

class Tally:
    """Sequences begun and steps run by one search, told to a `Progress` as they go."""

    def __init__(self, progress: Progress | None, sequences: int | None) -> None:
        self.progress, self.total = progress, sequences
        self.sequences = self.steps = 0

    def sequence(self) -> None:
        self.sequences += 1
        self._tell()

    def step(self) -> None:
        self.steps += 1
        self._tell()

    def _tell(self) -> None:
        if self.progress is not None:
            self.progress(self.sequences, self.total, f"{self.steps} steps")


class SecurityStateMachine(RuleBasedStateMachine):
    runner: ClassVar[SequenceRunner]
    on_failure: ClassVar[OnFailure | None] = None
    tally: ClassVar[Tally] = Tally(None, None)

    def __init__(self) -> None:
        super().__init__()
        self.runner.reset()
        self.drawer = StepDrawer(self.runner.names)
        self.tally.sequence()

    def _do(self, step: Step) -> None:
        """Judge the step in flight, then send this one and return while the server works on
        it: Hypothesis draws the next step meanwhile (it needs the model's state only)."""
        self.drawer.used(step)
        self._judge_in_flight()
        self.runner.send(step)
        self.tally.step()

    def _judge_in_flight(self) -> None:
        """The step sent last, read back and judged, before anything else is committed: the
        first step with a finding fails the sequence there."""
        if not self.runner.in_flight:
            return
        try:
            check(self.runner.collect(), self.runner.names, self.runner.viewers)
        except SequenceFailure as failure:
            if self.on_failure is not None:
                self.on_failure(failure)
            raise

    def teardown(self) -> None:
        """The sequence's last step, judged."""
        self._judge_in_flight()

    @initialize(data=st.data())
    def sign_up(self, data: st.DataObject) -> None:
        """Some of the pool create a profile first (steps like any other; others may later)."""
        levels = list(Privacy)
        for n, user in enumerate(USERS):
            if data.draw(st.sampled_from([False, True, True]), label=f"{user} creates a profile"):
                # Each user's first choice differs (Hypothesis draws first entries most).
                order = levels[n % 3:] + levels[: n % 3]
                privacy = data.draw(st.sampled_from(order), label=f"{user} privacy")
                self._do(Step.of(user, "create_profile", privacy=privacy.value))

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        state = self.runner.state
        pool = [d.label for d in DRAWS if d.when(state.world) for _ in range(d.weight)]
        label = data.draw(st.sampled_from(pool), label="verb")
        self._do(data.draw(_DRAW[label].strategy(self.drawer, state), label="step"))


def machine_for(
    runner: SequenceRunner, on_failure: OnFailure | None = None, tally: Tally | None = None
) -> type[SecurityStateMachine]:
    """The machine class bound to one runner (one database connection), counting what it
    runs in `tally` when given."""
    return type(  # type: ignore[return-value]
        "SecurityStateMachine",
        (SecurityStateMachine,),
        {"runner": runner, "on_failure": staticmethod(on_failure) if on_failure else None,
         "tally": tally or Tally(None, None)},
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


def search(
    runner: SequenceRunner, how: settings, progress: Progress | None = None
) -> SequenceFailure | None:
    """Run the machine; the first failing sequence, shrunk to a minimal one, or None. While it
    runs, `progress` (when given) is told the sequences begun (`max_examples` planned;
    Hypothesis also begins some it discards) and the steps run."""
    tally = Tally(progress, how.max_examples)
    found: list[SequenceFailure] = []
    try:
        run_state_machine_as_test(machine_for(runner, found.append, tally=tally), settings=how)
    except SequenceFailure as failure:
        return shrink(runner, failure)
    finally:
        runner.clean()
    if found:
        # Judged at teardown after the example's choices ran out, a failure reaches Hypothesis
        # while its data is frozen, and Hypothesis ends the example quietly: still a failure.
        return shrink(runner, found[0])
    return None
