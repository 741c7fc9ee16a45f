"""The world's entities as rows of the SoberTube schema (see stack/README.md).

The only place that knows table and column names; the access model never sees them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from psycopg import sql

from soberharness.world.entities import (
    Block,
    Bucket,
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
    World,
)

HIDDEN_AT = "2026-01-01T00:00:00Z"


@dataclasses.dataclass(frozen=True)
class Row:
    schema: str
    table: str
    values: dict[str, Any]
    key: tuple[str, ...]

    @property
    def name(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.table))

    def where(self) -> sql.Composed:
        return sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(col), sql.Literal(self.values[col]))
            for col in self.key
        )


def _parent(ref: ContentRef) -> dict[str, Any]:
    return {
        "post_id": ref.id if ref.kind == "post" else None,
        "video_id": ref.id if ref.kind == "video" else None,
    }


def row_of(entity: Entity) -> Row:
    """The row an entity is stored as."""
    match entity:
        case User():
            return Row(
                "public",
                "profiles",
                {
                    "id": entity.id,
                    "handle": entity.handle,
                    "privacy": entity.privacy.value,
                    "sober_since": entity.sober_since,
                },
                ("id",),
            )
        case Follow():
            return Row(
                "public",
                "follows",
                {
                    "follower_id": entity.follower,
                    "followee_id": entity.followee,
                    "status": entity.status.value,
                },
                ("follower_id", "followee_id"),
            )
        case Block():
            return Row(
                "public",
                "blocks",
                {"blocker_id": entity.blocker, "blocked_id": entity.blocked},
                ("blocker_id", "blocked_id"),
            )
        case Post():
            return Row(
                "public",
                "posts",
                {
                    "id": entity.id,
                    "author_id": entity.author,
                    "body": entity.body,
                    "hidden_at": HIDDEN_AT if entity.hidden else None,
                },
                ("id",),
            )
        case Video():
            return Row(
                "public",
                "videos",
                {
                    "id": entity.id,
                    "owner_id": entity.owner,
                    "title": entity.title,
                    "hidden_at": HIDDEN_AT if entity.hidden else None,
                },
                ("id",),
            )
        case Comment():
            return Row(
                "public",
                "comments",
                {"id": entity.id, "author_id": entity.author, "body": entity.body}
                | _parent(entity.parent),
                ("id",),
            )
        case Like():
            return Row(
                "public",
                "likes",
                {"id": entity.id, "user_id": entity.user} | _parent(entity.parent),
                ("id",),
            )
        case StoredObject():
            return Row(
                "storage",
                "objects",
                {
                    "id": entity.id,
                    "bucket_id": entity.bucket,
                    "name": entity.name,
                    "owner": entity.owner,
                    "owner_id": str(entity.owner) if entity.owner else None,
                    "metadata": json.dumps({"size": 1024, "mimetype": "application/octet-stream"}),
                },
                ("id",),
            )
        case DeletionRequest():
            return Row(
                "public",
                "account_deletion_requests",
                {"user_id": entity.user, "requested_at": entity.requested_at},
                ("user_id",),
            )
        case Bucket():
            return Row(
                "storage",
                "buckets",
                {
                    "id": entity.id,
                    "name": entity.id,
                    "public": entity.public,
                    "file_size_limit": entity.file_size_limit,
                    "allowed_mime_types": (
                        list(entity.allowed_mime_types)
                        if entity.allowed_mime_types is not None else None
                    ),
                },
                ("id",),
            )
    raise TypeError(f"not an entity: {entity!r}")


def auth_user_row(user: User) -> Row:
    """The auth.users row GoTrue would hold for `user` (moderators carry app_metadata.role)."""
    app_meta: dict[str, Any] = {"provider": "email", "providers": ["email"]}
    if user.moderator:
        app_meta["role"] = "moderator"
    return Row(
        "auth",
        "users",
        {
            "id": user.id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": user.email,
            "raw_app_meta_data": json.dumps(app_meta),
            "raw_user_meta_data": "{}",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        },
        ("id",),
    )


def insert(row: Row) -> sql.Composed:
    columns = list(row.values)
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        row.name,
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Literal(row.values[c]) for c in columns),
    )


def select_one(row: Row) -> sql.Composed:
    return sql.SQL("SELECT 1 FROM {} WHERE {}").format(row.name, row.where())


def update(before: Row, after: Row) -> sql.Composed:
    changed = {c: v for c, v in after.values.items() if before.values.get(c) != v}
    if not changed:  # a no-op update still runs, as PostgREST would send it
        column = next(c for c in after.values if c not in before.key)
        changed = {column: after.values[column]}
    return sql.SQL("UPDATE {} SET {} WHERE {}").format(
        before.name,
        sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v)) for c, v in changed.items()
        ),
        before.where(),
    )


def delete(row: Row) -> sql.Composed:
    return sql.SQL("DELETE FROM {} WHERE {}").format(row.name, row.where())


# Keys of every readable row per table, in the same shape as AccessModel.visible().
LIST_KEYS: dict[str, str] = {
    "profiles": "SELECT id FROM public.profiles",
    "follows": "SELECT follower_id, followee_id FROM public.follows",
    "blocks": "SELECT blocker_id, blocked_id FROM public.blocks",
    "posts": "SELECT id FROM public.posts",
    "videos": "SELECT id FROM public.videos",
    "comments": "SELECT id FROM public.comments",
    "likes": "SELECT id FROM public.likes",
    "objects": "SELECT id FROM storage.objects WHERE bucket_id IN ('avatars', 'videos')",
    "account_deletion_requests": "SELECT user_id FROM public.account_deletion_requests",
}

# The schema's tables the access model judges: qualified name -> (model table, key columns in
# the order of AccessModel's keys). A row of one of these, wherever a function or view returns
# it, is judged by its key.
MODEL_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "public.profiles": ("profiles", ("id",)),
    "public.follows": ("follows", ("follower_id", "followee_id")),
    "public.blocks": ("blocks", ("blocker_id", "blocked_id")),
    "public.posts": ("posts", ("id",)),
    "public.videos": ("videos", ("id",)),
    "public.comments": ("comments", ("id",)),
    "public.likes": ("likes", ("id",)),
    "storage.objects": ("objects", ("id",)),
}


def rows_below_auth(world: World) -> list[sql.Composable]:
    """The world's rows below auth.users, for users GoTrue already made."""
    statements: list[sql.Composable] = [insert(row_of(u)) for u in world.users.values()]
    statements += [insert(row_of(e)) for e in world.entities() if not isinstance(e, User)]
    return statements
