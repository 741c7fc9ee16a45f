"""Named flows and steps, so that a failing auth test says where it failed.

    flow = Flow("refresh rotation")
    with flow.step("reuse the rotated token"):
        ...

An AssertionError raised inside a step comes out as
`[refresh rotation / reuse the rotated token] <original message>`; an unexpected
GoTrueError (GoTrue refused a call the flow expected to succeed) and a HarnessError
(Mailpit had no mail, ...) are reported the same way, as assertion failures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from soberharness.clients.gotrue import GoTrueError
from soberharness.errors import HarnessError


class Flow:
    def __init__(self, name: str) -> None:
        self.name = name
        self.steps: list[str] = []

    def where(self, step: str) -> str:
        return f"[{self.name} / {step}]"

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.steps.append(name)
        try:
            yield
        except AssertionError as exc:  # keep the traceback: prefix the message in place
            exc.args = (f"{self.where(name)} {exc}", *exc.args[1:])
            raise
        except GoTrueError as exc:
            raise AssertionError(f"{self.where(name)} GoTrue refused: {exc}") from None
        except HarnessError as exc:
            raise AssertionError(f"{self.where(name)} {exc}") from None


def refused(call: Callable[[], object]) -> GoTrueError:
    """Run a GoTrue call that must be refused; returns the refusal. Inside a step, a call
    that succeeds fails the step (pytest.raises would fail without naming it)."""
    try:
        answer = call()
    except GoTrueError as exc:
        return exc
    raise AssertionError(f"GoTrue accepted a call it should refuse; it answered {answer!r:.160}")
