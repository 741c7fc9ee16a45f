"""The fixed world of the access matrix: one owner per privacy level and shared actors.

For each privacy level p there is an owner O_p. The shared actors relate to every owner:
  follower  F  — accepted follow to every O_p
  requested R  — pending follow to every O_p
  stranger  S  — no follow, no block
  blocked   B  — every O_p blocks B
  blocker   B2 — B2 blocks every O_p (the "blocked" actor seen from the other side)
  moderator M  — no follows, no blocks
plus anon and service. "self" is per owner: viewer("self", p) is O_p.

Each O_p owns a visible post, a hidden post, a visible video, a hidden video, a comment by
O_p and one by F on the visible post, a like by F on the visible post, an avatar object
`<O_p>/avatar.png` and a video object `<O_p>/clip.mp4`.

Ids are uuid5 over readable names, so reports are stable across runs.
"""

from __future__ import annotations

import dataclasses
import uuid

from soberharness.world.entities import (
    Block,
    Comment,
    Entity,
    Follow,
    FollowStatus,
    Like,
    Post,
    Privacy,
    StoredObject,
    User,
    Video,
    Viewer,
    World,
)

NAMESPACE = uuid.UUID("5b0e7e11-0000-4000-8000-000000000001")

SHARED_ACTORS = (
    "anon",
    "service",
    "follower",
    "requested",
    "stranger",
    "blocked",
    "blocker",
    "moderator",
)
ACTORS = ("self", *SHARED_ACTORS)

_SHARED_USERS = {
    "follower": "F",
    "requested": "R",
    "stranger": "S",
    "blocked": "B",
    "blocker": "B2",
    "moderator": "M",
}


def matrix_id(name: str, run_id: str = "") -> uuid.UUID:
    """The fixed id of a named matrix row, e.g. matrix_id('post/public'); a run id gives a
    run its own rows (on a shared database several runs may meet)."""
    return uuid.uuid5(NAMESPACE, f"{run_id}/{name}" if run_id else name)


@dataclasses.dataclass(frozen=True)
class MatrixWorld:
    """The matrix world and its named rows, per owner privacy level."""

    world: World
    owners: dict[Privacy, User]
    actors: dict[str, Viewer]  # the shared actors of SHARED_ACTORS
    users: dict[str, User]  # the shared users, keyed by actor label
    posts: dict[Privacy, Post]
    hidden_posts: dict[Privacy, Post]
    videos: dict[Privacy, Video]
    hidden_videos: dict[Privacy, Video]
    owner_comments: dict[Privacy, Comment]
    follower_comments: dict[Privacy, Comment]
    follower_likes: dict[Privacy, Like]
    avatars: dict[Privacy, StoredObject]
    clips: dict[Privacy, StoredObject]
    run_id: str = ""

    def id(self, name: str) -> uuid.UUID:
        """An id for a row a matrix case creates, in this world's (run's) namespace."""
        return matrix_id(name, self.run_id)

    def viewer(self, actor: str, privacy: Privacy) -> Viewer:
        """The viewer playing `actor` (one of ACTORS) towards the owner of that privacy."""
        if actor == "self":
            return Viewer.of(self.owners[privacy])
        try:
            return self.actors[actor]
        except KeyError:
            raise ValueError(f"unknown matrix actor {actor!r}; expected one of {ACTORS}") from None


def _user(
    label: str, run_id: str, privacy: Privacy = Privacy.PUBLIC, moderator: bool = False
) -> User:
    handle = f"matrix_{label.lower()}" + (f"_{run_id}" if run_id else "")
    return User(matrix_id(f"user/{label}", run_id), handle, privacy, moderator=moderator)


def build_matrix_world(run_id: str = "") -> MatrixWorld:
    """Build the fixed matrix world (a fresh World each call). A `run_id` tags every id and
    handle, so runs sharing a database never collide and leftovers name their run."""
    users = {
        actor: _user(label, run_id, moderator=actor == "moderator")
        for actor, label in _SHARED_USERS.items()
    }
    owners = {p: _user(f"O_{p.value}", run_id, p) for p in Privacy}
    world = World()
    for user in [*users.values(), *owners.values()]:
        world.add(user)
    rows: dict[str, dict[Privacy, Entity]] = {}
    for p, owner in owners.items():
        for edge in _edges(owner, users):
            world.add(edge)
        for name, entity in _owner_rows(p, owner, users["follower"], run_id).items():
            rows.setdefault(name, {})[p] = world.add(entity)
    actors = {"anon": Viewer.anon(), "service": Viewer.service()}
    actors |= {actor: Viewer.of(user) for actor, user in users.items()}
    return MatrixWorld(  # type: ignore[arg-type]
        world=world, owners=owners, actors=actors, users=users, run_id=run_id, **rows
    )


def _edges(owner: User, users: dict[str, User]) -> list[Follow | Block]:
    """How the shared actors relate to one owner."""
    return [
        Follow(users["follower"].id, owner.id, FollowStatus.ACCEPTED),
        Follow(users["requested"].id, owner.id, FollowStatus.PENDING),
        Block(owner.id, users["blocked"].id),
        Block(users["blocker"].id, owner.id),
    ]


def _owner_rows(p: Privacy, owner: User, follower: User, run_id: str) -> dict[str, Entity]:
    """The content of owner O_p, keyed by MatrixWorld field name."""

    def rid(name: str) -> uuid.UUID:
        return matrix_id(name, run_id)

    post = Post(rid(f"post/{p}"), owner.id, body=f"post of O_{p}")
    return {
        "posts": post,
        "hidden_posts": Post(rid(f"hidden_post/{p}"), owner.id, hidden=True),
        "videos": Video(rid(f"video/{p}"), owner.id, title=f"video of O_{p}"),
        "hidden_videos": Video(rid(f"hidden_video/{p}"), owner.id, hidden=True),
        "owner_comments": Comment(rid(f"owner_comment/{p}"), owner.id, post.ref),
        "follower_comments": Comment(rid(f"follower_comment/{p}"), follower.id, post.ref),
        "follower_likes": Like(rid(f"follower_like/{p}"), follower.id, post.ref),
        "avatars": StoredObject(
            rid(f"avatar/{p}"), "avatars", f"{owner.id}/avatar.png", owner.id
        ),
        "clips": StoredObject(rid(f"clip/{p}"), "videos", f"{owner.id}/clip.mp4", owner.id),
    }
