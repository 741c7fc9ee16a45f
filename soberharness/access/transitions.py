"""How the world changes when a write is committed, and whether it may be.

The access model (soberharness.access.model) judges one request against a snapshot of a
World; a sequence of committed requests also needs what each one leaves behind. This module
adds that, from the rules alone (no SQL):

  W:Follows   "Creating a block removes follows both ways."
  W:Posts     a deleted post or video takes its comments and likes with it (they cannot
              outlive their parent: "Comments/Likes: seen when their parent is seen").
  Deletion    account deletion requests (README, auth suite: "account deletion needs aal2"):
              a signed-in user asks for their own account to go, once, only from a session
              that passed a second factor (token claim aal = aal2); the request is seen by
              its user and by `service` only.

A privacy change changes nothing but the level: follows keep their status (a pending follow
to a profile that turns public stays pending until the followee accepts it), and every read
rule looks at the new level at once.
"""

from __future__ import annotations

import dataclasses

from soberharness.access.model import AccessModel, Key, key_of
from soberharness.records.results import Op
from soberharness.records.writes import Write
from soberharness.world.entities import (
    Block,
    Comment,
    ContentRef,
    DeletionRequest,
    Entity,
    Follow,
    Like,
    Post,
    StoredObject,
    User,
    Video,
    Viewer,
    World,
)

DELETION_REQUESTS = "account_deletion_requests"


Row = Entity  # a row a step writes: account deletion requests are world entities too
StepWrite = Write[Row]  # the write of a sequence step


@dataclasses.dataclass
class SequenceState:
    """What exists after a sequence of committed writes (deletion requests included)."""

    world: World

    def copy(self) -> SequenceState:
        return SequenceState(self.world.copy())


class TransitionModel:
    """Judges writes against one state and says what the state becomes."""

    def __init__(self, state: SequenceState) -> None:
        self.state = state
        self.access = AccessModel(state.world)

    # ------------------------------------------------------------------------ verdicts

    def allowed(self, viewer: Viewer, write: StepWrite) -> bool:
        if isinstance(write.target, DeletionRequest) and write.op is not Op.INSERT:
            return False  # a request is made, never changed or withdrawn
        match write.op:
            case Op.INSERT:
                return self.access.can_insert(viewer, write.target)
            case Op.UPDATE:
                assert write.after is not None and not isinstance(write.after, DeletionRequest)
                return self.access.can_update(viewer, write.target, write.after)
            case Op.DELETE:
                return self.access.can_delete(viewer, write.target)
        raise ValueError(f"not a write: {write.op}")

    def visible(self, viewer: Viewer) -> dict[str, set[Key]]:
        """The keys the viewer reads per table, deletion requests included."""
        return self.access.visible(viewer)

    # ---------------------------------------------------------------------- transitions

    def after(self, write: StepWrite) -> SequenceState:
        """The state once `write` (an allowed one) is committed."""
        state = self.state.copy()
        world = state.world
        target = write.target
        match write.op:
            case Op.INSERT:
                _insert(world, target)
            case Op.UPDATE:
                assert write.after is not None and not isinstance(write.after, DeletionRequest)
                _replace(world, target, write.after)
            case Op.DELETE:
                _delete(world, target)
        return state


def _insert(world: World, entity: Entity) -> None:
    world.add(entity)
    if isinstance(entity, Block):  # W:Follows: a block removes follows both ways
        pair = {entity.blocker, entity.blocked}
        world.follows = [f for f in world.follows if {f.follower, f.followee} != pair]


def _replace(world: World, before: Entity, after: Entity) -> None:
    match before:
        case Follow():
            assert isinstance(after, Follow)
            world.follows = [after if key_of(f) == key_of(before) else f for f in world.follows]
        case Block():
            assert isinstance(after, Block)
            world.blocks = [after if key_of(b) == key_of(before) else b for b in world.blocks]
        case _:
            world.add(after)  # dict tables: same key, new version


def _delete(world: World, entity: Entity) -> None:
    match entity:
        case User():
            world.users[entity.id] = dataclasses.replace(entity, has_profile=False)
        case Follow():
            world.follows = [f for f in world.follows if key_of(f) != key_of(entity)]
        case Block():
            world.blocks = [b for b in world.blocks if key_of(b) != key_of(entity)]
        case Post() | Video():
            table = world.posts if isinstance(entity, Post) else world.videos
            del table[entity.id]
            _drop_reactions(world, entity.ref)
        case Comment():
            del world.comments[entity.id]
        case Like():
            del world.likes[entity.id]
        case StoredObject():
            del world.objects[entity.id]
        case _:
            world.remove(entity)


def _drop_reactions(world: World, parent: ContentRef) -> None:
    world.comments = {k: c for k, c in world.comments.items() if c.parent != parent}
    world.likes = {k: v for k, v in world.likes.items() if v.parent != parent}
