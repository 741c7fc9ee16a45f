"""The cells of the access matrix: every table x operation x actor x owner privacy level.

A case says, for one table and operation, which row an actor touches and how; it is
written in world terms (entities), so the same case feeds the access model and, through
the SQL adapter, the database. A case may first change the world (`removed`/`added`):
for instance, to test that the follower may like a post, the follower's existing like
is removed first.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator

from soberharness.checker.results import Cell, Op
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
    Video,
    Viewer,
    World,
)
from soberharness.world.matrix_world import ACTORS, MatrixWorld


@dataclasses.dataclass(frozen=True)
class Action:
    """What one actor attempts, in world terms, and how the world looks just before."""

    op: Op
    target: Entity  # the row read, inserted, deleted, or the row before an update
    after: Entity | None = None  # the row after an update
    removed: tuple[Entity, ...] = ()
    added: tuple[Entity, ...] = ()  # a User here replaces the user (has_profile=False: no profile)

    def world(self, base: World) -> World:
        world = base.copy()
        for entity in self.removed:
            _remove(world, entity)
        for entity in self.added:
            world.add(entity)
        return world


def _remove(world: World, entity: Entity) -> None:
    match entity:
        case Follow():
            world.follows.remove(entity)
        case Block():
            world.blocks.remove(entity)
        case Like():
            del world.likes[entity.id]
        case Comment():
            del world.comments[entity.id]
        case _:
            raise TypeError(f"cases never remove {type(entity).__name__}")


@dataclasses.dataclass(frozen=True)
class Ctx:
    """What a case builder knows: the matrix world, the owner's privacy, the actor."""

    mw: MatrixWorld
    privacy: Privacy
    actor: str
    viewer: Viewer

    @property
    def owner(self) -> uuid.UUID:
        return self.mw.owners[self.privacy].id

    @property
    def me(self) -> uuid.UUID:
        """The actor's own user id; anon and service act for the stranger."""
        return self.viewer.user_id or self.stranger

    @property
    def stranger(self) -> uuid.UUID:
        return self.mw.users["stranger"].id

    def new_id(self, what: str) -> uuid.UUID:
        return self.mw.id(f"new/{what}/{self.privacy}/{self.actor}")


Builder = Callable[[Ctx], Action]


@dataclasses.dataclass(frozen=True)
class Case:
    table: str
    op: Op
    name: str
    build: Builder


def _replace(entity: Entity, **changes: object) -> Entity:
    return dataclasses.replace(entity, **changes)  # type: ignore[type-var]


def _owner_user(c: Ctx) -> Entity:
    return c.mw.owners[c.privacy]


def _follow(c: Ctx, status: FollowStatus) -> Action:
    existing = tuple(f for f in c.mw.world.follows if f.follower == c.me and f.followee == c.owner)
    return Action(Op.INSERT, Follow(c.me, c.owner, status), removed=existing)


def _accepted(c: Ctx) -> Follow:
    return Follow(c.mw.users["follower"].id, c.owner, FollowStatus.ACCEPTED)


def _pending(c: Ctx) -> Follow:
    return Follow(c.mw.users["requested"].id, c.owner, FollowStatus.PENDING)


def _block_b(c: Ctx) -> Block:
    return Block(c.owner, c.mw.users["blocked"].id)


def _like_insert(c: Ctx, parent: Post | Video) -> Action:
    mine = tuple(
        like
        for like in c.mw.world.likes.values()
        if like.user == c.me and like.parent == parent.ref
    )
    return Action(Op.INSERT, Like(c.new_id("like"), c.me, parent.ref), removed=mine)


def _object(c: Ctx, bucket: str, name: str) -> StoredObject:
    return StoredObject(c.new_id(f"object/{bucket}"), bucket, f"{c.owner}/{name}", c.me)  # type: ignore[arg-type]


CASES: list[Case] = [
    # profiles
    Case("profiles", Op.SELECT, "profile", lambda c: Action(Op.SELECT, _owner_user(c))),
    Case(
        "profiles", Op.INSERT, "owner's profile (none yet)",
        lambda c: Action(
            Op.INSERT, _owner_user(c), added=(_replace(_owner_user(c), has_profile=False),)
        ),
    ),
    Case(
        "profiles", Op.UPDATE, "handle",
        lambda c: Action(Op.UPDATE, _owner_user(c), _replace(_owner_user(c), handle="renamed")),
    ),
    Case(
        "profiles", Op.UPDATE, "privacy level",
        lambda c: Action(
            Op.UPDATE, _owner_user(c),
            _replace(_owner_user(c), privacy=Privacy.PRIVATE if c.privacy != Privacy.PRIVATE
                     else Privacy.PUBLIC),
        ),
    ),
    Case("profiles", Op.DELETE, "profile", lambda c: Action(Op.DELETE, _owner_user(c))),
    # follows (the owner is the followee)
    Case("follows", Op.SELECT, "accepted follow of owner",
         lambda c: Action(Op.SELECT, _accepted(c))),
    Case("follows", Op.SELECT, "pending follow of owner",
         lambda c: Action(Op.SELECT, _pending(c))),
    Case("follows", Op.INSERT, "follow owner as accepted",
         lambda c: _follow(c, FollowStatus.ACCEPTED)),
    Case("follows", Op.INSERT, "follow owner as pending",
         lambda c: _follow(c, FollowStatus.PENDING)),
    Case("follows", Op.UPDATE, "accept pending follow",
         lambda c: Action(Op.UPDATE, _pending(c), _replace(_pending(c),
                                                           status=FollowStatus.ACCEPTED))),
    Case("follows", Op.UPDATE, "revert accepted follow to pending",
         lambda c: Action(Op.UPDATE, _accepted(c), _replace(_accepted(c),
                                                            status=FollowStatus.PENDING))),
    Case("follows", Op.DELETE, "accepted follow of owner",
         lambda c: Action(Op.DELETE, _accepted(c))),
    # blocks (the owner blocks B)
    Case("blocks", Op.SELECT, "owner's block", lambda c: Action(Op.SELECT, _block_b(c))),
    Case("blocks", Op.INSERT, "block owner",
         lambda c: Action(Op.INSERT, Block(c.me, c.owner))),
    Case("blocks", Op.INSERT, "block as owner",
         lambda c: Action(Op.INSERT, Block(c.owner, c.mw.users["stranger"].id))),
    Case("blocks", Op.UPDATE, "move owner's block",
         lambda c: Action(Op.UPDATE, _block_b(c), _replace(_block_b(c),
                                                           blocked=c.mw.users["stranger"].id))),
    Case("blocks", Op.DELETE, "owner's block", lambda c: Action(Op.DELETE, _block_b(c))),
]


def _content_cases(table: str, kind: type[Post] | type[Video]) -> list[Case]:
    visible = "posts" if kind is Post else "videos"
    hidden = "hidden_posts" if kind is Post else "hidden_videos"
    owner_field = "author" if kind is Post else "owner"
    text_field = "body" if kind is Post else "title"

    def row(c: Ctx, which: str) -> Post | Video:
        return getattr(c.mw, which)[c.privacy]  # type: ignore[no-any-return]

    def new(c: Ctx, hidden_flag: bool) -> Post | Video:
        return kind(c.new_id(table), c.owner, hidden=hidden_flag)  # type: ignore[arg-type]

    return [
        Case(table, Op.SELECT, "visible", lambda c: Action(Op.SELECT, row(c, visible))),
        Case(table, Op.SELECT, "hidden", lambda c: Action(Op.SELECT, row(c, hidden))),
        Case(table, Op.INSERT, "as owner", lambda c: Action(Op.INSERT, new(c, False))),
        Case(table, Op.INSERT, "as owner, hidden_at set",
             lambda c: Action(Op.INSERT, new(c, True))),
        Case(table, Op.UPDATE, f"{text_field} of visible",
             lambda c: Action(Op.UPDATE, row(c, visible),
                              _replace(row(c, visible), **{text_field: "edited"}))),
        Case(table, Op.UPDATE, f"{text_field} of hidden",
             lambda c: Action(Op.UPDATE, row(c, hidden),
                              _replace(row(c, hidden), **{text_field: "edited"}))),
        Case(table, Op.UPDATE, "set hidden_at",
             lambda c: Action(Op.UPDATE, row(c, visible), _replace(row(c, visible), hidden=True))),
        Case(table, Op.UPDATE, "clear hidden_at",
             lambda c: Action(Op.UPDATE, row(c, hidden), _replace(row(c, hidden), hidden=False))),
        Case(table, Op.UPDATE, f"{owner_field} column to the stranger",
             lambda c: Action(Op.UPDATE, row(c, visible),
                              _replace(row(c, visible), **{owner_field: c.stranger}))),
        Case(table, Op.DELETE, "visible", lambda c: Action(Op.DELETE, row(c, visible))),
        Case(table, Op.DELETE, "hidden", lambda c: Action(Op.DELETE, row(c, hidden))),
    ]


def _reaction_cases() -> list[Case]:
    def post(c: Ctx) -> Post:
        return c.mw.posts[c.privacy]

    def hidden_post(c: Ctx) -> Post:
        return c.mw.hidden_posts[c.privacy]

    def fc(c: Ctx) -> Comment:
        return c.mw.follower_comments[c.privacy]

    def oc(c: Ctx) -> Comment:
        return c.mw.owner_comments[c.privacy]

    def fl(c: Ctx) -> Like:
        return c.mw.follower_likes[c.privacy]

    return [
        Case("comments", Op.SELECT, "owner's comment", lambda c: Action(Op.SELECT, oc(c))),
        Case("comments", Op.SELECT, "follower's comment", lambda c: Action(Op.SELECT, fc(c))),
        Case("comments", Op.INSERT, "on visible post",
             lambda c: Action(Op.INSERT, Comment(c.new_id("comment"), c.me, post(c).ref))),
        Case("comments", Op.INSERT, "on hidden post",
             lambda c: Action(Op.INSERT, Comment(c.new_id("comment"), c.me, hidden_post(c).ref))),
        Case("comments", Op.INSERT, "as the owner",
             lambda c: Action(Op.INSERT, Comment(c.new_id("comment"), c.owner, post(c).ref))),
        Case("comments", Op.UPDATE, "body of follower's comment",
             lambda c: Action(Op.UPDATE, fc(c), _replace(fc(c), body="edited"))),
        Case("comments", Op.UPDATE, "body of owner's comment",
             lambda c: Action(Op.UPDATE, oc(c), _replace(oc(c), body="edited"))),
        Case("comments", Op.UPDATE, "author column to the stranger",
             lambda c: Action(Op.UPDATE, fc(c), _replace(fc(c), author=c.stranger))),
        Case("comments", Op.DELETE, "follower's comment", lambda c: Action(Op.DELETE, fc(c))),
        Case("comments", Op.DELETE, "owner's comment", lambda c: Action(Op.DELETE, oc(c))),
        Case("likes", Op.SELECT, "follower's like", lambda c: Action(Op.SELECT, fl(c))),
        Case("likes", Op.INSERT, "on visible post", lambda c: _like_insert(c, post(c))),
        Case("likes", Op.INSERT, "on hidden post", lambda c: _like_insert(c, hidden_post(c))),
        Case("likes", Op.INSERT, "duplicate of follower's like",
             lambda c: Action(Op.INSERT, Like(c.new_id("like"), fl(c).user, fl(c).parent))),
        Case("likes", Op.UPDATE, "move follower's like to hidden post",
             lambda c: Action(Op.UPDATE, fl(c), _replace(fl(c), parent=hidden_post(c).ref))),
        Case("likes", Op.DELETE, "follower's like", lambda c: Action(Op.DELETE, fl(c))),
    ]


def _object_cases(bucket: str, field: str, filename: str) -> list[Case]:
    table = f"objects:{bucket}"

    def obj(c: Ctx) -> StoredObject:
        return getattr(c.mw, field)[c.privacy]  # type: ignore[no-any-return]

    return [
        Case(table, Op.SELECT, "owner's object", lambda c: Action(Op.SELECT, obj(c))),
        Case(table, Op.INSERT, "into owner's folder",
             lambda c: Action(Op.INSERT, _object(c, bucket, f"new-{filename}"))),
        Case(table, Op.UPDATE, "rename within owner's folder",
             lambda c: Action(Op.UPDATE, obj(c),
                              _replace(obj(c), name=f"{c.owner}/renamed-{filename}"))),
        Case(table, Op.UPDATE, "move to actor's folder",
             lambda c: Action(Op.UPDATE, obj(c),
                              _replace(obj(c), name=f"{c.me}/moved-{filename}"))),
        Case(table, Op.DELETE, "owner's object", lambda c: Action(Op.DELETE, obj(c))),
    ]


CASES += _content_cases("posts", Post)
CASES += _content_cases("videos", Video)
CASES += _reaction_cases()
CASES += _object_cases("avatars", "avatars", "avatar.png")
CASES += _object_cases("videos", "clips", "clip.mp4")


def cells(mw: MatrixWorld) -> Iterator[tuple[Cell, Ctx, Case]]:
    """Every cell of the matrix, with what is needed to run and judge it."""
    for case in CASES:
        for privacy in Privacy:
            for actor in ACTORS:
                ctx = Ctx(mw, privacy, actor, mw.viewer(actor, privacy))
                yield Cell(case.table, case.op, actor, privacy.value, case.name), ctx, case
