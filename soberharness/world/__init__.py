"""Actors and data: users, follows, blocks, privacy levels, content."""

from soberharness.world.entities import (
    Block,
    Comment,
    ContentRef,
    Entity,
    Follow,
    FollowStatus,
    Like,
    Post,
    Privacy,
    Role,
    StoredObject,
    User,
    Video,
    Viewer,
    World,
)

__all__ = [
    "Block",
    "Comment",
    "ContentRef",
    "Entity",
    "Follow",
    "FollowStatus",
    "Like",
    "Post",
    "Privacy",
    "Role",
    "StoredObject",
    "User",
    "Video",
    "Viewer",
    "World",
]
