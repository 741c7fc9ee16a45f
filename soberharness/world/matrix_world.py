"""The fixed world of the access matrix: one owner per privacy level and shared actors.

For each privacy level p there is an owner O_p. The shared actors relate to every owner:
  follower  F  — accepted follow to every O_p
  requested R  — pending follow to every O_p
  stranger  S  — no follow, no block
  blocked   B  — every O_p blocks B
  blocker   B2 — B2 blocks every O_p (the "blocked" actor seen from the other side)
  moderator M  — no follows, no blocks
  moderator+blocked  MB — a moderator every O_p blocks
  moderator+blocker  MX — a moderator who blocks every O_p
  moderator+follower MF — a moderator with an accepted follow to every O_p
plus anon and service. "self" is per owner: viewer("self", p) is O_p.

Each O_p owns a visible post, a hidden post, a visible video, a hidden video; on each of these
four parents a comment by O_p, a comment by F and a like by F; a comment by B on the visible
post (written before the block); an avatar object `<O_p>/avatar.png`, a video object
`<O_p>/clip.mp4`, and an account-deletion request. Every shared user owns an avatar and a clip
in their own folder (what they move into others' folders).

Ids are uuid5 over readable names, so reports are stable across runs.
"""

from __future__ import annotations

import dataclasses
import uuid

from soberharness.world.entities import (
    Block,
    Comment,
    DeletionRequest,
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
    "moderator+blocked",
    "moderator+blocker",
    "moderator+follower",
)
ACTORS = ("self", *SHARED_ACTORS)
MODERATORS = ("moderator", "moderator+blocked", "moderator+blocker", "moderator+follower")
# The four parents a comment or like hangs on: MatrixWorld field and readable name.
PARENTS: dict[str, str] = {
    "posts": "visible post",
    "hidden_posts": "hidden post",
    "videos": "visible video",
    "hidden_videos": "hidden video",
}

_SHARED_USERS = {
    "follower": "F",
    "requested": "R",
    "stranger": "S",
    "blocked": "B",
    "blocker": "B2",
    "moderator": "M",
    "moderator+blocked": "MB",
    "moderator+blocker": "MX",
    "moderator+follower": "MF",
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
    owner_comments: dict[Privacy, Comment]  # on the visible post (as owner_comments_on)
    follower_comments: dict[Privacy, Comment]
    follower_likes: dict[Privacy, Like]
    owner_comments_on: dict[Privacy, dict[str, Comment]]  # keyed by PARENTS field
    follower_comments_on: dict[Privacy, dict[str, Comment]]
    follower_likes_on: dict[Privacy, dict[str, Like]]
    blocked_comments: dict[Privacy, Comment]  # by B on the visible post, before the block
    avatars: dict[Privacy, StoredObject]
    clips: dict[Privacy, StoredObject]
    deletion_requests: dict[Privacy, DeletionRequest]
    user_avatars: dict[str, StoredObject]  # the shared users' own objects, by actor label
    user_clips: dict[str, StoredObject]
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
        actor: _user(label, run_id, moderator=actor in MODERATORS)
        for actor, label in _SHARED_USERS.items()
    }
    owners = {p: _user(f"O_{p.value}", run_id, p) for p in Privacy}
    world = World()
    for user in [*users.values(), *owners.values()]:
        world.add(user)
    rows: dict[str, dict[Privacy, Entity]] = {}
    nested: dict[str, dict[Privacy, dict[str, Entity]]] = {}
    for p, owner in owners.items():
        for edge in _edges(owner, users):
            world.add(edge)
        content = _owner_rows(p, owner, users, run_id)
        for name, entity in content.items():
            rows.setdefault(name, {})[p] = world.add(entity)
        for name, per_parent in _reactions(p, owner, users, content, run_id).items():
            nested.setdefault(name, {})[p] = {k: world.add(e) for k, e in per_parent.items()}
    rows["owner_comments"] = {p: c["posts"] for p, c in nested["owner_comments_on"].items()}
    rows["follower_comments"] = {
        p: c["posts"] for p, c in nested["follower_comments_on"].items()
    }
    rows["follower_likes"] = {p: c["posts"] for p, c in nested["follower_likes_on"].items()}
    own: dict[str, dict[str, Entity]] = {"user_avatars": {}, "user_clips": {}}
    for actor, user in users.items():
        own["user_avatars"][actor] = world.add(StoredObject(
            matrix_id(f"user_avatar/{actor}", run_id), "avatars", f"{user.id}/avatar.png", user.id
        ))
        own["user_clips"][actor] = world.add(StoredObject(
            matrix_id(f"user_clip/{actor}", run_id), "videos", f"{user.id}/clip.mp4", user.id
        ))
    actors = {"anon": Viewer.anon(), "service": Viewer.service()}
    actors |= {actor: Viewer.of(user) for actor, user in users.items()}
    return MatrixWorld(  # type: ignore[arg-type]
        world=world, owners=owners, actors=actors, users=users, run_id=run_id,
        **rows, **nested, **own,
    )


def _edges(owner: User, users: dict[str, User]) -> list[Follow | Block]:
    """How the shared actors relate to one owner."""
    return [
        Follow(users["follower"].id, owner.id, FollowStatus.ACCEPTED),
        Follow(users["requested"].id, owner.id, FollowStatus.PENDING),
        Block(owner.id, users["blocked"].id),
        Block(users["blocker"].id, owner.id),
        Block(owner.id, users["moderator+blocked"].id),
        Block(users["moderator+blocker"].id, owner.id),
        Follow(users["moderator+follower"].id, owner.id, FollowStatus.ACCEPTED),
    ]


def _owner_rows(
    p: Privacy, owner: User, users: dict[str, User], run_id: str
) -> dict[str, Entity]:
    """The content of owner O_p, keyed by MatrixWorld field name."""

    def rid(name: str) -> uuid.UUID:
        return matrix_id(name, run_id)

    post = Post(rid(f"post/{p}"), owner.id, body=f"post of O_{p}")
    return {
        "posts": post,
        "hidden_posts": Post(rid(f"hidden_post/{p}"), owner.id, hidden=True),
        "videos": Video(rid(f"video/{p}"), owner.id, title=f"video of O_{p}"),
        "hidden_videos": Video(rid(f"hidden_video/{p}"), owner.id, hidden=True),
        "blocked_comments": Comment(rid(f"blocked_comment/{p}"), users["blocked"].id, post.ref),
        "avatars": StoredObject(
            rid(f"avatar/{p}"), "avatars", f"{owner.id}/avatar.png", owner.id
        ),
        "clips": StoredObject(rid(f"clip/{p}"), "videos", f"{owner.id}/clip.mp4", owner.id),
        # made long ago (written by the superuser): due for the deletion worker (D29)
        "deletion_requests": DeletionRequest(owner.id, requested_at="2026-01-01T00:00:00Z"),
    }


def _reactions(
    p: Privacy, owner: User, users: dict[str, User], content: dict[str, Entity], run_id: str
) -> dict[str, dict[str, Entity]]:
    """Comments by O_p and F and a like by F on each of O_p's four parents."""
    out: dict[str, dict[str, Entity]] = {
        "owner_comments_on": {}, "follower_comments_on": {}, "follower_likes_on": {}
    }
    follower = users["follower"].id
    for field in PARENTS:
        parent = content[field]
        assert isinstance(parent, Post | Video)
        ref = parent.ref
        suffix = "" if field == "posts" else f"/{field}"
        out["owner_comments_on"][field] = Comment(
            matrix_id(f"owner_comment/{p}{suffix}", run_id), owner.id, ref
        )
        out["follower_comments_on"][field] = Comment(
            matrix_id(f"follower_comment/{p}{suffix}", run_id), follower, ref
        )
        out["follower_likes_on"][field] = Like(
            matrix_id(f"follower_like/{p}{suffix}", run_id), follower, ref
        )
    return out
