"""Hypothesis strategies for small, consistent Worlds.

Ids are deterministic and readable: uuid.UUID(int=(kind << 96) | n), so user 3 is
00000001-0000-0000-0000-000000000003 and post 2 is 00000002-0000-0000-0000-000000000002.

A generated world is consistent with the schema, not with the history of creation rules:
no self-follows or self-blocks, no follow between a blocked pair (a block removes follows
both ways), one like per user and parent, one object per (bucket, name), social rows only
for users with a profile. Follow statuses are drawn freely (a pending follow to a public
profile is what a later privacy change leaves behind).
"""

from __future__ import annotations

import uuid
from typing import Literal

from hypothesis import strategies as st

from soberharness.world.entities import (
    Block,
    Comment,
    ContentRef,
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

KIND_CODES = {"user": 1, "post": 2, "video": 3, "comment": 4, "like": 5, "object": 6}

OBJECT_FILES: dict[str, tuple[str, ...]] = {
    "avatars": ("avatar.png", "old.png"),
    "videos": ("clip.mp4", "day1.mp4"),
}


def world_id(kind: str, n: int) -> uuid.UUID:
    """The deterministic id of the n-th entity of a kind (see KIND_CODES)."""
    return uuid.UUID(int=(KIND_CODES[kind] << 96) | n)


def all_viewers(world: World) -> list[Viewer]:
    """anon, service, and every user of the world signed in as itself."""
    return [Viewer.anon(), Viewer.service(), *(Viewer.of(u) for u in world.users.values())]


def viewers(world: World) -> st.SearchStrategy[Viewer]:
    """One of all_viewers(world)."""
    return st.sampled_from(all_viewers(world))


@st.composite
def _users(draw: st.DrawFn, min_users: int, max_users: int, allow_no_profile: bool) -> list[User]:
    count = draw(st.integers(min_users, max_users))
    users = []
    for n in range(1, count + 1):
        users.append(
            User(
                id=world_id("user", n),
                handle=f"user{n}",
                privacy=draw(st.sampled_from(Privacy)),
                moderator=draw(st.booleans()),
                has_profile=draw(st.booleans()) if allow_no_profile else True,
            )
        )
    return users


def _pairs(ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    return [(a, b) for a in ids for b in ids if a != b]


@st.composite
def _blocks(draw: st.DrawFn, ids: list[uuid.UUID]) -> list[Block]:
    pairs = _pairs(ids)
    if not pairs:
        return []
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(ids)))
    return [Block(a, b) for a, b in chosen]


@st.composite
def _follows(draw: st.DrawFn, ids: list[uuid.UUID], blocks: list[Block]) -> list[Follow]:
    blocked = {(b.blocker, b.blocked) for b in blocks}
    pairs = [(a, b) for a, b in _pairs(ids) if (a, b) not in blocked and (b, a) not in blocked]
    if not pairs:
        return []
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=2 * len(ids)))
    return [Follow(a, b, draw(st.sampled_from(FollowStatus))) for a, b in chosen]


@st.composite
def _content(
    draw: st.DrawFn, ids: list[uuid.UUID], max_items: int
) -> tuple[list[Post], list[Video]]:
    posts = [
        Post(world_id("post", n), draw(st.sampled_from(ids)), hidden=draw(st.booleans()))
        for n in range(1, draw(st.integers(0, max_items)) + 1)
    ]
    videos = [
        Video(world_id("video", n), draw(st.sampled_from(ids)), hidden=draw(st.booleans()))
        for n in range(1, draw(st.integers(0, max_items)) + 1)
    ]
    return posts, videos


@st.composite
def _reactions(
    draw: st.DrawFn, ids: list[uuid.UUID], refs: list[ContentRef], max_items: int
) -> tuple[list[Comment], list[Like]]:
    if not refs:
        return [], []
    comments = [
        Comment(world_id("comment", n), draw(st.sampled_from(ids)), draw(st.sampled_from(refs)))
        for n in range(1, draw(st.integers(0, max_items)) + 1)
    ]
    like_keys = draw(
        st.lists(
            st.tuples(st.sampled_from(ids), st.sampled_from(refs)),
            unique=True,
            max_size=max_items,
        )
    )
    likes = [
        Like(world_id("like", n), user, parent) for n, (user, parent) in enumerate(like_keys, 1)
    ]
    return comments, likes


@st.composite
def _objects(draw: st.DrawFn, ids: list[uuid.UUID], max_items: int) -> list[StoredObject]:
    buckets: list[Literal["avatars", "videos"]] = ["avatars", "videos"]
    places = [(b, uid, f) for b in buckets for uid in ids for f in OBJECT_FILES[b]]
    chosen = draw(st.lists(st.sampled_from(places), unique=True, max_size=max_items))
    return [
        StoredObject(world_id("object", n), bucket, f"{uid}/{file}", uid)
        for n, (bucket, uid, file) in enumerate(chosen, 1)
    ]


@st.composite
def worlds(
    draw: st.DrawFn,
    max_users: int = 5,
    min_users: int = 1,
    max_items: int = 6,
    allow_no_profile: bool = False,
) -> World:
    """A small consistent World (see the module docstring).

    max_items bounds each of posts, videos, comments, likes and objects. With
    allow_no_profile, some users have no profile; they own and do nothing.
    """
    users = draw(_users(min_users, max_users, allow_no_profile))
    world = World(users={u.id: u for u in users})
    actors = [u.id for u in users if u.has_profile]
    if not actors:
        return world
    blocks = draw(_blocks(actors))
    posts, videos = draw(_content(actors, max_items))
    refs = [p.ref for p in posts] + [v.ref for v in videos]
    comments, likes = draw(_reactions(actors, refs, max_items))
    for entity in [
        *blocks,
        *draw(_follows(actors, blocks)),
        *posts,
        *videos,
        *comments,
        *likes,
        *draw(_objects(actors, max_items)),
    ]:
        world.add(entity)
    return world
