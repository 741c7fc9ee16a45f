"""One registry entry per table of the SoberTube schema the harness models (see stack/README.md):
the entity type it holds, its name, its key, how an entity maps to a row, the world's rows of
it, and the SQL the harness reads and cleans it with.

Read by the access model (table names, keys), the SQL layer (soberharness.db.sql: rows, key
lists, the tables judged where functions return rows), the sequence runner (dumping a
sequence's rows back into entities, cleaning up) and the sequence checker (the model's rows).
A new table is one entry here; see README, "Adding a table".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from soberharness.world.entities import (
    ROW_KEYS,
    Block,
    Bucket,
    Comment,
    ContentRef,
    DeletionRequest,
    Follow,
    FollowStatus,
    Like,
    Post,
    Privacy,
    StoredObject,
    User,
    Video,
    World,
)

HIDDEN_AT = "2026-01-01T00:00:00Z"

Key = uuid.UUID | tuple[uuid.UUID, uuid.UUID]
# (the row as the dump reads it, the moderators' ids) -> the entity
FromDump = Callable[[tuple[Any, ...], set[uuid.UUID]], Any]


@dataclasses.dataclass(frozen=True)
class Table:
    name: str  # the model's name ("profiles", "objects", ...)
    entity: type
    schema: str
    table: str
    key_columns: tuple[str, ...]
    key: Callable[[Any], Key]  # the key `visible()` uses
    values: Callable[[Any], dict[str, Any]]  # an entity as the row's column values
    # the world's rows of it (None: World.rows, for a table without a World field of its own)
    rows_of: Callable[[World], Iterable[Any]] | None = None
    list_keys: str | None = None  # the keys a viewer reads (None: not read per viewer)
    # The rows of a sequence's users ({pool}: their ids, {folders}: their storage folders),
    # read back into entities by `from_dump`.
    dump: str | None = None
    from_dump: FromDump | None = None
    clean: str | None = None  # deletes a sequence's rows ({pool}, {folders})
    surface: bool = False  # judged wherever a function or view returns its rows

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"

    def rows(self, world: World) -> Iterable[Any]:
        """The world's rows of this table."""
        if self.rows_of is None:
            return world.rows_of(self.entity).values()
        return self.rows_of(world)


def _id(entity: Any) -> Key:
    return entity.id  # type: ignore[no-any-return]


def _parent_columns(ref: ContentRef, second: ContentRef | None = None) -> dict[str, Any]:
    """post_id and video_id of a comment or like: its parent's column set, and the other one
    too for a row with a second parent (which the schema refuses)."""
    refs = [ref, *([second] if second is not None else [])]
    return {f"{kind}_id": next((r.id for r in refs if r.kind == kind), None)
            for kind in ("post", "video")}


def _parent(post_id: uuid.UUID | None, video_id: uuid.UUID | None) -> ContentRef:
    if post_id is not None:
        return ContentRef("post", post_id)
    return ContentRef("video", video_id)  # type: ignore[arg-type]


def _second_parent(post_id: uuid.UUID | None, video_id: uuid.UUID | None) -> ContentRef | None:
    """The video of a row that names both a post and a video (the post is its parent)."""
    return ContentRef("video", video_id) if post_id and video_id else None


def _overridden(values: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """A row's values plus the database-filled columns its entity gives a value (D33)."""
    return lambda entity: values(entity) | dict(entity.overrides)


def _user_values(u: User) -> dict[str, Any]:
    return {"id": u.id, "handle": u.handle, "privacy": u.privacy.value,
            "sober_since": u.sober_since}


def _object_values(o: StoredObject) -> dict[str, Any]:
    return {
        "id": o.id,
        "bucket_id": o.bucket,
        "name": o.name,
        "owner": o.owner,
        "owner_id": str(o.owner) if o.owner else None,
        "metadata": json.dumps({"size": 1024, "mimetype": "application/octet-stream"}),
    }


def _bucket_values(b: Bucket) -> dict[str, Any]:
    return {
        "id": b.id,
        "name": b.id,
        "public": b.public,
        "file_size_limit": b.file_size_limit,
        "allowed_mime_types": (
            list(b.allowed_mime_types) if b.allowed_mime_types is not None else None
        ),
    }


REGISTRY: tuple[Table, ...] = (
    Table(
        "profiles", User, "public", "profiles", ("id",), _id, _overridden(_user_values),
        rows_of=lambda w: (u for u in w.users.values() if u.has_profile),
        list_keys="SELECT id FROM public.profiles",
        dump="SELECT id, handle, privacy::text, sober_since FROM public.profiles "
             "WHERE id = ANY({pool})",
        from_dump=lambda r, mods: User(r[0], r[1], Privacy(r[2]), r[3] or dt.date(2020, 1, 1),
                                       moderator=r[0] in mods),
        # profiles go with their users (GoTrue's auth.users), the last thing cleaned
        clean="DELETE FROM auth.users WHERE id = ANY({pool})",
        surface=True,
    ),
    Table(
        "follows", Follow, "public", "follows", ("follower_id", "followee_id"),
        lambda f: (f.follower, f.followee),
        _overridden(lambda f: {"follower_id": f.follower, "followee_id": f.followee,
                               "status": f.status.value}),
        rows_of=lambda w: w.follows,
        list_keys="SELECT follower_id, followee_id FROM public.follows",
        dump="SELECT follower_id, followee_id, status::text FROM public.follows "
             "WHERE follower_id = ANY({pool}) OR followee_id = ANY({pool})",
        from_dump=lambda r, _: Follow(r[0], r[1], FollowStatus(r[2])),
        clean="DELETE FROM public.follows WHERE follower_id = ANY({pool}) "
              "OR followee_id = ANY({pool})",
        surface=True,
    ),
    Table(
        "blocks", Block, "public", "blocks", ("blocker_id", "blocked_id"),
        lambda b: (b.blocker, b.blocked),
        _overridden(lambda b: {"blocker_id": b.blocker, "blocked_id": b.blocked}),
        rows_of=lambda w: w.blocks,
        list_keys="SELECT blocker_id, blocked_id FROM public.blocks",
        dump="SELECT blocker_id, blocked_id FROM public.blocks "
             "WHERE blocker_id = ANY({pool}) OR blocked_id = ANY({pool})",
        from_dump=lambda r, _: Block(r[0], r[1]),
        clean="DELETE FROM public.blocks WHERE blocker_id = ANY({pool}) "
              "OR blocked_id = ANY({pool})",
        surface=True,
    ),
    Table(
        "posts", Post, "public", "posts", ("id",), _id,
        _overridden(lambda p: {"id": p.id, "author_id": p.author, "body": p.body,
                               "hidden_at": p.hidden_when if p.hidden else None}),
        rows_of=lambda w: w.posts.values(),
        list_keys="SELECT id FROM public.posts",
        dump="SELECT id, author_id, body, hidden_at IS NOT NULL FROM public.posts "
             "WHERE author_id = ANY({pool})",
        from_dump=lambda r, _: Post(r[0], r[1], r[2], r[3]),
        clean="DELETE FROM public.posts WHERE author_id = ANY({pool})",
        surface=True,
    ),
    Table(
        "videos", Video, "public", "videos", ("id",), _id,
        _overridden(lambda v: {"id": v.id, "owner_id": v.owner, "title": v.title,
                               "hidden_at": v.hidden_when if v.hidden else None}),
        rows_of=lambda w: w.videos.values(),
        list_keys="SELECT id FROM public.videos",
        dump="SELECT id, owner_id, title, hidden_at IS NOT NULL FROM public.videos "
             "WHERE owner_id = ANY({pool})",
        from_dump=lambda r, _: Video(r[0], r[1], r[2], r[3]),
        clean="DELETE FROM public.videos WHERE owner_id = ANY({pool})",
        surface=True,
    ),
    Table(
        "comments", Comment, "public", "comments", ("id",), _id,
        _overridden(lambda c: {"id": c.id, "author_id": c.author, "body": c.body}
                    | _parent_columns(c.parent, c.second_parent)),
        rows_of=lambda w: w.comments.values(),
        list_keys="SELECT id FROM public.comments",
        dump="SELECT id, author_id, post_id, video_id, body FROM public.comments "
             "WHERE author_id = ANY({pool})",
        from_dump=lambda r, _: Comment(r[0], r[1], _parent(r[2], r[3]), r[4],
                                       second_parent=_second_parent(r[2], r[3])),
        clean="DELETE FROM public.comments WHERE author_id = ANY({pool})",
        surface=True,
    ),
    Table(
        "likes", Like, "public", "likes", ("id",), _id,
        _overridden(lambda lk: {"id": lk.id, "user_id": lk.user}
                    | _parent_columns(lk.parent, lk.second_parent)),
        rows_of=lambda w: w.likes.values(),
        list_keys="SELECT id FROM public.likes",
        dump="SELECT id, user_id, post_id, video_id FROM public.likes "
             "WHERE user_id = ANY({pool})",
        from_dump=lambda r, _: Like(r[0], r[1], _parent(r[2], r[3]),
                                    second_parent=_second_parent(r[2], r[3])),
        clean="DELETE FROM public.likes WHERE user_id = ANY({pool})",
        surface=True,
    ),
    Table(
        "objects", StoredObject, "storage", "objects", ("id",), _id, _object_values,
        rows_of=lambda w: w.objects.values(),
        list_keys="SELECT id FROM storage.objects WHERE bucket_id IN ('avatars', 'videos')",
        dump="SELECT id, bucket_id, name, owner FROM storage.objects "
             "WHERE split_part(name, '/', 1) = ANY({folders})",
        from_dump=lambda r, _: StoredObject(r[0], r[1], r[2], r[3]),
        clean="DELETE FROM storage.objects WHERE split_part(name, '/', 1) = ANY({folders})",
        surface=True,
    ),
    Table(
        "account_deletion_requests", DeletionRequest, "public", "account_deletion_requests",
        ("user_id",), lambda d: d.user,
        lambda d: {"user_id": d.user} | (
            {"requested_at": d.requested_at} if d.requested_at is not None else {}),
        rows_of=lambda w: w.deletion_requests.values(),
        list_keys="SELECT user_id FROM public.account_deletion_requests",
        dump="SELECT user_id FROM public.account_deletion_requests WHERE user_id = ANY({pool})",
        from_dump=lambda r, _: DeletionRequest(r[0]),
        # removed with their users (ON DELETE CASCADE from auth.users)
    ),
    Table(
        # The stack creates its buckets; the matrix reads and writes them, no world holds them.
        "buckets", Bucket, "storage", "buckets", ("id",), _id, _bucket_values,
    ),
)

# The order a sequence's rows are cleaned in: children first (so that a stack's triggers see
# ordinary deletes, not cascades), the users last.
CLEAN_ORDER: tuple[str, ...] = (
    "objects", "blocks", "follows", "likes", "comments", "posts", "videos", "profiles",
)

_BY_ENTITY: dict[type, Table] = {t.entity: t for t in REGISTRY}
ROW_KEYS.update({t.entity: t.key for t in REGISTRY})
BY_NAME: dict[str, Table] = {t.name: t for t in REGISTRY}
# The tables whose rows each viewer reads (the access model's TABLES), in registry order.
READ: tuple[Table, ...] = tuple(t for t in REGISTRY if t.list_keys is not None)


def table_for(entity: object) -> Table:
    """The registry entry of an entity's table."""
    try:
        return _BY_ENTITY[type(entity)]
    except KeyError:
        raise TypeError(f"not an entity: {entity!r}") from None
