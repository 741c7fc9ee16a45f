"""The SoberTube world as plain values, independent of any SQL.

A World is what the access model reasons about and what the workload writes into
a target. Field names here are the world's own; soberharness.db.sql maps
them to tables and columns. A table added later declares its entity beside its entry in
soberharness.world.tables and needs no field here: the World keeps its rows in `rows`, keyed as
its entry keys them (see README, "Adding a table").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, Literal, TypeVar


class Privacy(StrEnum):
    PUBLIC = "public"
    COMMUNITY = "community"
    PRIVATE = "private"


class FollowStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"


class Role(StrEnum):
    """Database role a request runs as, as PostgREST derives it from the token."""

    ANON = "anon"
    AUTHENTICATED = "authenticated"
    SERVICE = "service_role"


# The hidden_at of a hidden post or video unless a case chooses another.
HIDDEN_AT = "2026-01-01T00:00:00Z"

@dataclasses.dataclass(frozen=True)
class User:
    """A signed-up user; has_profile is False for a user who has not created a profile yet."""

    id: uuid.UUID
    handle: str
    privacy: Privacy = Privacy.PUBLIC
    sober_since: dt.date = dt.date(2020, 1, 1)
    moderator: bool = False
    has_profile: bool = True
    # Columns the database fills (created_at, updated_at, profiles.time_zone) given a value by
    # the writer instead, as (column, value): empty, the database's defaults (D33).
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def email(self) -> str:
        return f"{self.handle}@example.test"


@dataclasses.dataclass(frozen=True)
class Follow:
    follower: uuid.UUID
    followee: uuid.UUID
    status: FollowStatus = FollowStatus.ACCEPTED
    # Columns the database fills (created_at, updated_at, profiles.time_zone) given a value by
    # the writer instead, as (column, value): empty, the database's defaults (D33).
    overrides: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Block:
    blocker: uuid.UUID
    blocked: uuid.UUID
    # Columns the database fills (created_at, updated_at, profiles.time_zone) given a value by
    # the writer instead, as (column, value): empty, the database's defaults (D33).
    overrides: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class ContentRef:
    """Points at a post or a video: the parent of a comment or a like."""

    kind: Literal["post", "video"]
    id: uuid.UUID


@dataclasses.dataclass(frozen=True)
class Post:
    id: uuid.UUID
    author: uuid.UUID
    body: str = "one day at a time"
    hidden: bool = False  # hidden_at set by a moderator
    hidden_when: str = HIDDEN_AT  # the hidden_at a hidden row carries (any time hides it)
    # Columns the database fills (created_at, updated_at, profiles.time_zone) given a value by
    # the writer instead, as (column, value): empty, the database's defaults (D33).
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> ContentRef:
        return ContentRef("post", self.id)


@dataclasses.dataclass(frozen=True)
class Video:
    id: uuid.UUID
    owner: uuid.UUID
    title: str = "my first year"
    hidden: bool = False
    hidden_when: str = HIDDEN_AT
    # Columns the database fills (created_at, updated_at, profiles.time_zone) given a value by
    # the writer instead, as (column, value): empty, the database's defaults (D33).
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> ContentRef:
        return ContentRef("video", self.id)


@dataclasses.dataclass(frozen=True)
class Comment:
    id: uuid.UUID
    author: uuid.UUID
    parent: ContentRef
    body: str = "proud of you"
    # Columns the database fills (created_at, updated_at, profiles.time_zone) given a value by
    # the writer instead, as (column, value): empty, the database's defaults (D33).
    overrides: tuple[tuple[str, str], ...] = ()
    # The other parent column set too (the schema allows one parent: a row with two is refused
    # for everyone; matrix cases try it).
    second_parent: ContentRef | None = None


@dataclasses.dataclass(frozen=True)
class Like:
    id: uuid.UUID
    user: uuid.UUID
    parent: ContentRef
    # Columns the database fills (created_at, updated_at, profiles.time_zone) given a value by
    # the writer instead, as (column, value): empty, the database's defaults (D33).
    overrides: tuple[tuple[str, str], ...] = ()
    # The other parent column set too (the schema allows one parent: a row with two is refused
    # for everyone; matrix cases try it).
    second_parent: ContentRef | None = None


@dataclasses.dataclass(frozen=True)
class StoredObject:
    """An object in a storage bucket; name is '<folder>/<file>', the folder being a user id."""

    id: uuid.UUID
    bucket: Literal["avatars", "videos"]
    name: str
    owner: uuid.UUID | None

    @property
    def folder(self) -> str:
        """The first folder of the name ("" for a name with no folder)."""
        return self.name.split("/", 1)[0] if "/" in self.name else ""


@dataclasses.dataclass(frozen=True)
class DeletionRequest:
    """A user's request that their account be deleted (one per user, keyed by the user)."""

    user: uuid.UUID
    # None: the database's time of the insert (D33); a value: a time the writer chose
    requested_at: str | None = None


@dataclasses.dataclass(frozen=True)
class Bucket:
    """A storage bucket and its settings. The stack creates its buckets; a World holds none
    (the access model knows which buckets the rules name)."""

    id: str
    public: bool = False
    file_size_limit: int | None = None  # bytes; None: the Storage API's global limit
    allowed_mime_types: tuple[str, ...] | None = None  # None: any type


Entity = (
    User | Follow | Block | Post | Video | Comment | Like | StoredObject | DeletionRequest | Bucket
)


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who makes a request: a role, the signed-in user if any, and token facts."""

    role: Role
    user_id: uuid.UUID | None = None
    moderator: bool = False  # token app_metadata.role == 'moderator'
    aal: Literal["aal1", "aal2"] = "aal1"

    @classmethod
    def anon(cls) -> Viewer:
        return cls(Role.ANON)

    @classmethod
    def service(cls) -> Viewer:
        return cls(Role.SERVICE)

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(Role.AUTHENTICATED, user.id, moderator=user.moderator)


T = TypeVar("T")


# How a World keys the rows of a table without a field of its own, per entity type: filled by
# soberharness.world.tables from its registry (where such an entity type is declared, so the
# registry is loaded before any entity of it exists).
ROW_KEYS: dict[type, Callable[[Any], Any]] = {}


def _key(entity: object) -> Any:
    try:
        return ROW_KEYS[type(entity)](entity)
    except KeyError:
        raise TypeError(f"not an entity: {entity!r}") from None


@dataclasses.dataclass
class World:
    """Everything that exists: what the model reasons about and the workload writes."""

    users: dict[uuid.UUID, User] = dataclasses.field(default_factory=dict)
    follows: list[Follow] = dataclasses.field(default_factory=list)
    blocks: list[Block] = dataclasses.field(default_factory=list)
    posts: dict[uuid.UUID, Post] = dataclasses.field(default_factory=dict)
    videos: dict[uuid.UUID, Video] = dataclasses.field(default_factory=dict)
    comments: dict[uuid.UUID, Comment] = dataclasses.field(default_factory=dict)
    likes: dict[uuid.UUID, Like] = dataclasses.field(default_factory=dict)
    objects: dict[uuid.UUID, StoredObject] = dataclasses.field(default_factory=dict)
    deletion_requests: dict[uuid.UUID, DeletionRequest] = dataclasses.field(default_factory=dict)
    # The rows of the tables without a field of their own, per entity type, by key.
    rows: dict[type, dict[Any, Any]] = dataclasses.field(default_factory=dict)

    def rows_of(self, kind: type[T]) -> dict[Any, T]:
        """The rows of a table without a field of its own (its entity type), by key."""
        return self.rows.get(kind, {})

    def add(self, entity: Entity) -> Entity:
        match entity:
            case User():
                self.users[entity.id] = entity
            case Follow():
                self.follows.append(entity)
            case Block():
                self.blocks.append(entity)
            case Post():
                self.posts[entity.id] = entity
            case Video():
                self.videos[entity.id] = entity
            case Comment():
                self.comments[entity.id] = entity
            case Like():
                self.likes[entity.id] = entity
            case StoredObject():
                self.objects[entity.id] = entity
            case DeletionRequest():
                self.deletion_requests[entity.user] = entity
            case Bucket():
                raise TypeError("a World holds no buckets: the stack creates them")
            case _:
                self.rows.setdefault(type(entity), {})[_key(entity)] = entity
        return entity

    def holds(self, entity: object) -> bool:
        """A row with this entity's key is in a table without a field of its own."""
        return _key(entity) in self.rows.get(type(entity), {})

    def remove(self, entity: object) -> None:
        """Drop a row of a table without a field of its own."""
        self.rows.get(type(entity), {}).pop(_key(entity), None)

    def entities(self) -> Iterator[Entity]:
        yield from self.users.values()
        yield from self.follows
        yield from self.blocks
        yield from self.posts.values()
        yield from self.videos.values()
        yield from self.comments.values()
        yield from self.likes.values()
        yield from self.objects.values()
        yield from self.deletion_requests.values()
        for table in self.rows.values():
            yield from table.values()

    def parent_owner(self, ref: ContentRef) -> uuid.UUID:
        if ref.kind == "post":
            return self.posts[ref.id].author
        return self.videos[ref.id].owner

    def copy(self) -> World:
        return World(
            users=dict(self.users),
            follows=list(self.follows),
            blocks=list(self.blocks),
            posts=dict(self.posts),
            videos=dict(self.videos),
            comments=dict(self.comments),
            likes=dict(self.likes),
            objects=dict(self.objects),
            deletion_requests=dict(self.deletion_requests),
            rows={kind: dict(table) for kind, table in self.rows.items()},
        )


def new_id() -> uuid.UUID:
    return uuid.uuid4()
