"""Hypothesis strategies for the next step of a sequence, given the model's current state.

Every strategy can produce steps the rules refuse: any actor (anon included), rows in
someone else's name, rows that no longer exist, the wrong follow status. They lean towards
the step a well-behaved client would send (`mostly`), so that long legitimate histories
(follow, accept, block, unblock, hide, ...) are common, and they shrink towards it.
Nothing is filtered: a refused step is committed (and checked) like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

from hypothesis import strategies as st

from soberharness.access.model import initial_follow_status
from soberharness.access.transitions import SequenceState
from soberharness.records.steps import ANON, NOBODY, USERS, Step
from soberharness.workload.steps import Names
from soberharness.world.entities import FollowStatus, Privacy

T = TypeVar("T")

ACTORS: tuple[str, ...] = (*USERS, ANON)
MODERATOR = next(u for u in USERS if u.startswith("m"))
FILES = ("a.png", "b.mp4")
PRIVATE_FIRST = (Privacy.PRIVATE, Privacy.COMMUNITY, Privacy.PUBLIC)


def mostly(natural: Sequence[T] | T, anything: Sequence[T]) -> st.SearchStrategy[T]:
    """Three times in four one of `natural` (and shrinks to it), otherwise any of `anything`."""
    first: list[T] = list(natural) if isinstance(natural, list | tuple) else [natural]  # type: ignore[list-item]
    if not first:
        return st.sampled_from(list(anything))
    return st.one_of(*(st.sampled_from(first) for _ in range(3)), st.sampled_from(list(anything)))


def _others_first(user: str) -> list[str]:
    """Every user, `user` last (Hypothesis draws the first entries most often)."""
    return [u for u in USERS if u != user] + [user]


class StepDrawer:
    """Draws steps against the current state; `counters` hands out fresh row names."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.counters: dict[str, int] = {}

    # ---------------------------------------------------------------------- the state

    def fresh(self, kind: str) -> str:
        return f"{kind}{self.counters.get(kind, 0) + 1}"

    def used(self, step: Step) -> None:
        """Count the fresh names a step used."""
        for _, value in step.args:
            kind, digits = value[:1], value[1:]
            if kind in "pvclo" and digits.isdigit():
                self.counters[kind] = max(self.counters.get(kind, 0), int(digits))

    def ever(self, kind: str) -> list[str]:
        """Every name of a kind handed out so far (existing or not), at least one."""
        return [f"{kind}{n}" for n in range(1, self.counters.get(kind, 0) + 1)] or [f"{kind}1"]

    def _name(self, value: uuid.UUID) -> str:
        return self.names.name(value)

    def with_profile(self, state: SequenceState) -> list[str]:
        return [u for u in USERS if state.world.users[self.names.id(u)].has_profile]

    def actor(self, state: SequenceState) -> st.SearchStrategy[str]:
        return mostly(self.with_profile(state), ACTORS)

    # --------------------------------------------------------------------------- verbs

    @st.composite
    def create_profile(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        without = [u for u in USERS if u not in self.with_profile(state)]
        actor = draw(mostly(without, ACTORS))
        return Step.of(actor, "create_profile", privacy=draw(st.sampled_from(PRIVATE_FIRST)).value)

    @st.composite
    def set_privacy(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        user = draw(mostly(actor if actor != ANON else USERS[0], USERS))
        return Step.of(actor, "set_privacy", user=user,
                       privacy=draw(st.sampled_from(PRIVATE_FIRST)).value)

    @st.composite
    def follow(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        follower = draw(mostly(actor if actor != ANON else USERS[0], USERS))
        me = self.names.id(follower)
        taken = {f.followee for f in state.world.follows if f.follower == me}
        taken |= {b.blocked for b in state.world.blocks if b.blocker == me}
        taken |= {b.blocker for b in state.world.blocks if b.blocked == me}
        fresh = [u for u in self.with_profile(state)
                 if u != follower and self.names.id(u) not in taken]
        followee = draw(mostly(fresh, _others_first(follower)))
        privacy = state.world.users[self.names.id(followee)].privacy
        natural = initial_follow_status(privacy)
        other = next(s for s in FollowStatus if s is not natural)
        status = draw(st.sampled_from([natural, other]))  # the wrong one half the time
        return Step.of(actor, "follow", follower=follower, followee=followee, status=status.value)

    def _pairs(self) -> list[tuple[str, str]]:
        return [(a, b) for a in USERS for b in USERS if a != b]

    @st.composite
    def accept(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        pending = [(self._name(f.follower), self._name(f.followee)) for f in state.world.follows
                   if f.status is FollowStatus.PENDING]
        follower, followee = draw(mostly(pending, self._pairs()))
        actor = draw(mostly(followee, ACTORS))
        return Step.of(actor, "accept", follower=follower, followee=followee)

    @st.composite
    def unfollow(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        existing = [(self._name(f.follower), self._name(f.followee)) for f in state.world.follows]
        follower, followee = draw(mostly(existing, self._pairs()))
        actor = draw(mostly([follower, followee], ACTORS))
        return Step.of(actor, "unfollow", follower=follower, followee=followee)

    @st.composite
    def block(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        blocker = draw(mostly(actor if actor != ANON else USERS[0], USERS))
        me = self.names.id(blocker)
        partners = sorted({self._name(f.followee if f.follower == me else f.follower)
                           for f in state.world.follows if me in (f.follower, f.followee)})
        partners = partners or [u for u in self.with_profile(state) if u != blocker]
        already = {self._name(b.blocked) for b in state.world.blocks if b.blocker == me}
        partners = [u for u in partners if u not in already]
        blocked = draw(mostly(partners, _others_first(blocker)))
        return Step.of(actor, "block", blocker=blocker, blocked=blocked)

    @st.composite
    def unblock(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        existing = [(self._name(b.blocker), self._name(b.blocked)) for b in state.world.blocks]
        blocker, blocked = draw(mostly(existing, self._pairs()))
        actor = draw(mostly(blocker, ACTORS))
        return Step.of(actor, "unblock", blocker=blocker, blocked=blocked)

    @st.composite
    def post(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        author = draw(mostly(actor if actor != ANON else USERS[0], USERS))
        return Step.of(actor, "post", id=self.fresh("p"), author=author)

    @st.composite
    def upload_video(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        owner = draw(mostly(actor if actor != ANON else USERS[0], USERS))
        return Step.of(actor, "upload_video", id=self.fresh("v"), owner=owner,
                       object=self.fresh("o"))

    def _content(self, state: SequenceState, hidden: bool | None = None) -> list[str]:
        w = state.world
        rows = [*w.posts.values(), *w.videos.values()]
        return [self._name(r.id) for r in rows if hidden is None or r.hidden is hidden]

    @st.composite
    def hide(draw, self: StepDrawer, state: SequenceState, unhide: bool = False) -> Step:  # type: ignore[misc]
        target = draw(mostly(self._content(state, hidden=unhide),
                             self.ever("p") + self.ever("v")))
        actor = draw(mostly(MODERATOR, ACTORS))
        return Step.of(actor, "unhide" if unhide else "hide", target=target)

    @st.composite
    def comment(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        author = draw(mostly(actor if actor != ANON else USERS[0], USERS))
        parent = draw(mostly(self._content(state), self.ever("p") + self.ever("v")))
        return Step.of(actor, "comment", id=self.fresh("c"), author=author, parent=parent)

    @st.composite
    def like(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        user = draw(mostly(actor if actor != ANON else USERS[0], USERS))
        parent = draw(mostly(self._content(state), self.ever("p") + self.ever("v")))
        return Step.of(actor, "like", id=self.fresh("l"), user=user, parent=parent)

    @st.composite
    def delete(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        w = state.world
        owners: dict[str, list[str]] = {}
        for p in w.posts.values():
            owners[self._name(p.id)] = [self._name(p.author), MODERATOR]
        for v in w.videos.values():
            owners[self._name(v.id)] = [self._name(v.owner), MODERATOR]
        for c in w.comments.values():
            parent = w.posts.get(c.parent.id) or w.videos.get(c.parent.id)
            parent_owner = getattr(parent, "author", None) or getattr(parent, "owner", None)
            owners[self._name(c.id)] = [self._name(c.author), MODERATOR] + (
                [self._name(parent_owner)] if parent_owner else [])
        for like in w.likes.values():
            owners[self._name(like.id)] = [self._name(like.user)]
        target = draw(mostly(sorted(owners), self.ever("p") + self.ever("c") + self.ever("l")))
        actor = draw(mostly(owners.get(target, []), ACTORS))
        return Step.of(actor, "delete", target=target)

    @st.composite
    def upload(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        folder = draw(mostly(actor if actor != ANON else USERS[0], [*USERS, NOBODY]))
        return Step.of(actor, "upload", id=self.fresh("o"),
                       bucket=draw(st.sampled_from(("avatars", "videos"))),
                       folder=folder, file=draw(st.sampled_from(FILES)))

    def _objects(self, state: SequenceState) -> list[str]:
        return sorted(self._name(o.id) for o in state.world.objects.values())

    def _folder_of(self, state: SequenceState, name: str) -> str:
        obj = state.world.objects.get(self.names.id(name))
        return self._name(obj.name.split("/", 1)[0]) if obj else USERS[0]

    @st.composite
    def move(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        target = draw(mostly(self._objects(state), self.ever("o")))
        obj = state.world.objects.get(self.names.id(target))
        owner = self._folder_of(state, target)
        actor = draw(mostly(owner if owner in USERS else ACTORS[0], ACTORS))
        bucket = draw(mostly(obj.bucket if obj else "avatars", ["avatars", "videos"]))
        folder = draw(mostly(actor if actor != ANON else USERS[0], [*USERS, NOBODY]))
        return Step.of(actor, "move", target=target, bucket=bucket, folder=folder,
                       file=draw(st.sampled_from(("moved.png", *FILES))))

    @st.composite
    def delete_object(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        target = draw(mostly(self._objects(state), self.ever("o")))
        owner = self._folder_of(state, target)
        actor = draw(mostly([owner, MODERATOR] if owner in USERS else [MODERATOR], ACTORS))
        return Step.of(actor, "delete", target=target)

    @st.composite
    def request_deletion(draw, self: StepDrawer, state: SequenceState) -> Step:  # type: ignore[misc]
        actor = draw(self.actor(state))
        asked = {self._name(u) for u in state.world.deletion_requests}
        user = draw(mostly(actor if actor not in (ANON, *asked) else [], USERS))
        return Step.of(actor, "request_deletion", user=user,
                       aal=draw(st.sampled_from(("aal2", "aal1"))))
