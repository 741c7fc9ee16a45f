"""What the drawing of a step needs: `mostly`, and a StepDrawer that hands out fresh row names
and answers questions about the current state. Each verb's own strategy sits beside its entry
in soberharness.workload.steps (VERBS).

Every strategy can produce steps the rules refuse: any actor (anon included), rows in
someone else's name, rows that no longer exist, the wrong follow status. They lean towards
the step a well-behaved client would send (`mostly`), so that long legitimate histories
(follow, accept, block, unblock, hide, ...) are common, and they shrink towards it.
Nothing is filtered: a refused step is committed (and checked) like any other.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, TypeVar

from hypothesis import strategies as st

from soberharness.access.transitions import SequenceState
from soberharness.records.steps import ANON, USERS, Step
from soberharness.world.entities import Privacy

if TYPE_CHECKING:
    from soberharness.workload.steps import Names

T = TypeVar("T")

ACTORS: tuple[str, ...] = (*USERS, ANON)
MODERATOR = next(u for u in USERS if u.startswith("m"))
FILES = ("a.png", "b.mp4")
PRIVATE_FIRST = (Privacy.PRIVATE, Privacy.COMMUNITY, Privacy.PUBLIC)


def mostly(natural: Sequence[T] | T, anything: Sequence[T]) -> st.SearchStrategy[T]:
    """Three times in four one of `natural` (and shrinks to it), otherwise any of `anything`.
    Built once per pair of choices (a step draws many: building and validating a strategy
    costs more than drawing from it)."""
    first = tuple(natural) if isinstance(natural, list | tuple) else (natural,)
    return _mostly(first, tuple(anything))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=4096)
def _mostly(first: tuple[Hashable, ...], anything: tuple[Hashable, ...]
            ) -> st.SearchStrategy[Hashable]:
    if not first:
        return sampled(anything)
    return st.one_of(*(st.sampled_from(first) for _ in range(3)), st.sampled_from(anything))


@functools.lru_cache(maxsize=1024)
def sampled(choices: tuple[Hashable, ...]) -> st.SearchStrategy[Hashable]:
    """`st.sampled_from(choices)`, built once per tuple of choices."""
    return st.sampled_from(choices)


def others_first(user: str) -> list[str]:
    """Every user, `user` last (Hypothesis draws the first entries most often)."""
    return [u for u in USERS if u != user] + [user]


def pairs() -> list[tuple[str, str]]:
    """Every ordered pair of two users."""
    return [(a, b) for a in USERS for b in USERS if a != b]


def acting_as(actor: str) -> str:
    """The user an actor would name as themselves (the first user for anon)."""
    return actor if actor != ANON else USERS[0]


class StepDrawer:
    """Draws steps against the current state; `counters` hands out fresh row names."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.counters: dict[str, int] = {}

    def fresh(self, kind: str) -> str:
        return f"{kind}{self.counters.get(kind, 0) + 1}"

    def used(self, step: Step) -> None:
        """Count the fresh names a step used (a row's short name: a letter, then digits)."""
        for _, value in step.args:
            kind, digits = value[:1], value[1:]
            if kind.isalpha() and digits.isdigit() and value not in USERS:
                self.counters[kind] = max(self.counters.get(kind, 0), int(digits))

    def ever(self, kind: str) -> list[str]:
        """Every name of a kind handed out so far (existing or not), at least one."""
        return [f"{kind}{n}" for n in range(1, self.counters.get(kind, 0) + 1)] or [f"{kind}1"]

    def name(self, value: uuid.UUID) -> str:
        return self.names.name(value)

    def with_profile(self, state: SequenceState) -> list[str]:
        return [u for u in USERS if state.world.users[self.names.id(u)].has_profile]

    def actor(self, state: SequenceState) -> st.SearchStrategy[str]:
        return mostly(self.with_profile(state), ACTORS)

    def content(self, state: SequenceState, hidden: bool | None = None) -> list[str]:
        """The posts and videos there are (only the hidden or shown ones, when asked)."""
        w = state.world
        rows = [*w.posts.values(), *w.videos.values()]
        return [self.name(r.id) for r in rows if hidden is None or r.hidden is hidden]

    def objects(self, state: SequenceState) -> list[str]:
        return sorted(self.name(o.id) for o in state.world.objects.values())

    def folder_of(self, state: SequenceState, name: str) -> str:
        obj = state.world.objects.get(self.names.id(name))
        return self.name(obj.name.split("/", 1)[0]) if obj else USERS[0]
