"""A small world over users that already exist (made by GoTrue), for tokens-into-RLS checks."""

from __future__ import annotations

import uuid

from soberharness.world.entities import (
    Block,
    Comment,
    Follow,
    FollowStatus,
    Like,
    Post,
    Privacy,
    User,
    Video,
    World,
    new_id,
)


def small_world(ids: list[uuid.UUID]) -> World:
    """Four users (public, private, community, a public moderator) with follows of both
    statuses, a block, posts (one hidden), a video, a comment and a like."""
    a, b, c, m = ids
    tag = uuid.uuid4().hex[:8]
    world = World()
    for user_id, name, privacy, moderator in (
        (a, "ana", Privacy.PUBLIC, False),
        (b, "bea", Privacy.PRIVATE, False),
        (c, "cai", Privacy.COMMUNITY, False),
        (m, "mod", Privacy.PUBLIC, True),
    ):
        world.add(User(user_id, f"rls_{name}_{tag}", privacy, moderator=moderator))
    world.add(Follow(c, b, FollowStatus.ACCEPTED))
    world.add(Follow(a, b, FollowStatus.PENDING))
    world.add(Follow(b, a, FollowStatus.ACCEPTED))
    world.add(Follow(m, c, FollowStatus.ACCEPTED))
    world.add(Block(a, c))
    posts = [Post(new_id(), author) for author in (a, b, c, m)]
    posts.append(Post(new_id(), b, hidden=True))
    for post in posts:
        world.add(post)
    video = world.add(Video(new_id(), c))
    assert isinstance(video, Video)
    world.add(Comment(new_id(), a, posts[1].ref))
    world.add(Comment(new_id(), m, video.ref))
    world.add(Like(new_id(), c, posts[1].ref))
    world.add(Like(new_id(), b, posts[0].ref))
    return world
