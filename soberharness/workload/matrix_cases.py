"""The cells of the access matrix: every table x operation x actor x owner privacy level.

A case says, for one table and operation, which row an actor touches and how; it is
written in world terms (entities), so the same case feeds the access model and, through
the SQL adapter, the database. A case may first change the world (`removed`/`added`):
for instance, to test that the follower may like a post, the follower's existing like
is removed first.

Every signed-in actor's cell carries one of the token variants of
`soberharness.db.claims` (plain as GoTrue issues it, or forged with what a user controls),
rotated over the cells so each table, operation, actor and privacy level meets all of them.
A case may fix the session's `aal` (account deletion needs `aal2`: both are tried).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from soberharness.db.claims import TOKEN_VARIANTS, TokenVariant, variant_claims
from soberharness.records.results import Cell, Op
from soberharness.world.entities import (
    Block,
    Bucket,
    Comment,
    ContentRef,
    DeletionRequest,
    Entity,
    Follow,
    FollowStatus,
    Like,
    Post,
    Privacy,
    Role,
    StoredObject,
    Video,
    Viewer,
    World,
)
from soberharness.world.matrix_world import ACTORS, PARENTS, MatrixWorld

# The buckets as the stack creates them (migration 0005): what a bucket update starts from.
STACK_BUCKETS: dict[str, Bucket] = {
    "avatars": Bucket("avatars", public=True),
    "videos": Bucket("videos", public=False),
}


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
        case DeletionRequest():
            del world.deletion_requests[entity.user]
        case _:
            raise TypeError(f"cases never remove {type(entity).__name__}")


@dataclasses.dataclass(frozen=True)
class Ctx:
    """What a case builder knows: the matrix world, the owner's privacy, the actor."""

    mw: MatrixWorld
    privacy: Privacy
    actor: str
    viewer: Viewer
    token: TokenVariant | None = None  # None for anon and service (no user token)

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

    @property
    def other_user(self) -> uuid.UUID:
        """A user who is neither the actor nor the owner (the stranger, else the follower)."""
        return self.mw.users["follower"].id if self.me == self.stranger else self.stranger

    @property
    def own_label(self) -> str:
        """The shared-user label whose objects are the actor's own (anon, service: stranger;
        self owns the owner's objects)."""
        return self.actor if self.actor in self.mw.users else "stranger"

    def new_id(self, what: str) -> uuid.UUID:
        return self.mw.id(f"new/{what}/{self.privacy}/{self.actor}")

    def claims(self) -> dict[str, Any] | None:
        """The token claims this cell's request carries (None: the viewer's plain claims).
        A forged token spoofs the owner's e-mail (the owner's own: a moderator's)."""
        if self.token is None:
            return None
        users = self.mw.world.users
        mine = users.get(self.viewer.user_id) if self.viewer.user_id else None
        owner = self.mw.owners[self.privacy]
        spoof = owner if mine is None or mine.id != owner.id else self.mw.users["moderator"]
        return variant_claims(
            self.viewer, self.token, mine.email if mine else None, spoofed_email=spoof.email
        )


Builder = Callable[[Ctx], Action]


@dataclasses.dataclass(frozen=True)
class Case:
    table: str
    op: Op
    name: str
    build: Builder
    aal: Literal["aal1", "aal2"] | None = None  # the session's aal, when the case fixes it
    # The owner privacy levels tried; a case whose rules ignore privacy runs at one level.
    privacies: tuple[Privacy, ...] = tuple(Privacy)


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


def _my_follow(c: Ctx) -> Follow:
    """The actor's follow of the owner as the world has it (accepted when there is none)."""
    for f in c.mw.world.follows:
        if f.follower == c.me and f.followee == c.owner:
            return f
    return Follow(c.me, c.owner, FollowStatus.ACCEPTED)


def _block_b(c: Ctx) -> Block:
    return Block(c.owner, c.mw.users["blocked"].id)


def _request_of(c: Ctx, user: uuid.UUID) -> tuple[DeletionRequest, ...]:
    found = c.mw.world.deletion_requests.get(user)
    return (found,) if found else ()


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
        "profiles", Op.UPDATE, "sober_since",
        lambda c: Action(Op.UPDATE, _owner_user(c),
                         _replace(_owner_user(c), sober_since=_owner_user(c).sober_since.replace(
                             year=2021))),  # type: ignore[union-attr]
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
    Case("follows", Op.SELECT, "actor's follow of owner",
         lambda c: Action(Op.SELECT, _my_follow(c))),
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
    Case("follows", Op.DELETE, "actor's follow of owner",
         lambda c: Action(Op.DELETE, _my_follow(c))),
    # blocks (the owner blocks B; the blocking actors block or are blocked by the owner)
    Case("blocks", Op.SELECT, "owner's block", lambda c: Action(Op.SELECT, _block_b(c))),
    Case("blocks", Op.SELECT, "owner's block of the actor",
         lambda c: Action(Op.SELECT, Block(c.owner, c.me))),
    Case("blocks", Op.SELECT, "actor's block of owner",
         lambda c: Action(Op.SELECT, Block(c.me, c.owner))),
    Case("blocks", Op.INSERT, "block owner",
         lambda c: Action(Op.INSERT, Block(c.me, c.owner))),
    Case("blocks", Op.INSERT, "block as owner",
         lambda c: Action(Op.INSERT, Block(c.owner, c.mw.users["stranger"].id))),
    Case("blocks", Op.UPDATE, "move owner's block",
         lambda c: Action(Op.UPDATE, _block_b(c), _replace(_block_b(c),
                                                           blocked=c.mw.users["stranger"].id))),
    Case("blocks", Op.DELETE, "owner's block", lambda c: Action(Op.DELETE, _block_b(c))),
    Case("blocks", Op.DELETE, "owner's block of the actor",
         lambda c: Action(Op.DELETE, Block(c.owner, c.me))),
    Case("blocks", Op.DELETE, "actor's block of owner",
         lambda c: Action(Op.DELETE, Block(c.me, c.owner))),
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


def _parent(c: Ctx, field: str) -> Post | Video:
    return getattr(c.mw, field)[c.privacy]  # type: ignore[no-any-return]


def _like_insert(c: Ctx, parent: Post | Video) -> Action:
    mine = tuple(
        like
        for like in c.mw.world.likes.values()
        if like.user == c.me and like.parent == parent.ref
    )
    return Action(Op.INSERT, Like(c.new_id(f"like/{parent.id}"), c.me, parent.ref), removed=mine)


def _per_parent_cases(field: str, parent_name: str) -> list[Case]:
    """The reactions tried on one of the owner's four parents (W:Comments, W:Likes)."""

    def fc(c: Ctx) -> Comment:
        return c.mw.follower_comments_on[c.privacy][field]

    def oc(c: Ctx) -> Comment:
        return c.mw.owner_comments_on[c.privacy][field]

    def fl(c: Ctx) -> Like:
        return c.mw.follower_likes_on[c.privacy][field]

    on = f"on {parent_name}"
    owners_comment = [
        Case("comments", Op.SELECT, f"owner's comment {on}", lambda c: Action(Op.SELECT, oc(c)))
    ] if field == "posts" else []  # elsewhere the parent decides alike for both authors
    return [
        *owners_comment,
        Case("comments", Op.SELECT, f"follower's comment {on}",
             lambda c: Action(Op.SELECT, fc(c))),
        Case("comments", Op.INSERT, on,
             lambda c: Action(Op.INSERT, Comment(c.new_id(f"comment/{field}"), c.me,
                                                 _parent(c, field).ref))),
        Case("comments", Op.UPDATE, f"body of follower's comment {on}",
             lambda c: Action(Op.UPDATE, fc(c), _replace(fc(c), body="edited"))),
        Case("comments", Op.DELETE, f"follower's comment {on}",
             lambda c: Action(Op.DELETE, fc(c))),
        Case("likes", Op.SELECT, f"follower's like {on}", lambda c: Action(Op.SELECT, fl(c))),
        Case("likes", Op.INSERT, on, lambda c: _like_insert(c, _parent(c, field))),
        Case("likes", Op.DELETE, f"follower's like {on}", lambda c: Action(Op.DELETE, fl(c))),
    ]


def _reaction_cases() -> list[Case]:
    def post(c: Ctx) -> Post:
        return c.mw.posts[c.privacy]

    def fc(c: Ctx) -> Comment:
        return c.mw.follower_comments[c.privacy]

    def oc(c: Ctx) -> Comment:
        return c.mw.owner_comments[c.privacy]

    def bc(c: Ctx) -> Comment:
        return c.mw.blocked_comments[c.privacy]

    def fl(c: Ctx) -> Like:
        return c.mw.follower_likes[c.privacy]

    per_parent = [c for field, name in PARENTS.items() for c in _per_parent_cases(field, name)]
    return [
        *per_parent,
        Case("comments", Op.SELECT, "blocked user's comment on visible post",
             lambda c: Action(Op.SELECT, bc(c))),
        Case("comments", Op.INSERT, "as the owner",
             lambda c: Action(Op.INSERT, Comment(c.new_id("comment"), c.owner, post(c).ref))),
        Case("comments", Op.UPDATE, "body of owner's comment on visible post",
             lambda c: Action(Op.UPDATE, oc(c), _replace(oc(c), body="edited"))),
        Case("comments", Op.UPDATE, "body of blocked user's comment on visible post",
             lambda c: Action(Op.UPDATE, bc(c), _replace(bc(c), body="edited"))),
        Case("comments", Op.UPDATE, "author column to the stranger",
             lambda c: Action(Op.UPDATE, fc(c), _replace(fc(c), author=c.stranger))),
        Case("comments", Op.DELETE, "owner's comment on visible post",
             lambda c: Action(Op.DELETE, oc(c))),
        Case("comments", Op.DELETE, "blocked user's comment on visible post",
             lambda c: Action(Op.DELETE, bc(c))),
        Case("likes", Op.INSERT, "duplicate of follower's like",
             lambda c: Action(Op.INSERT, Like(c.new_id("like"), fl(c).user, fl(c).parent))),
        Case("likes", Op.UPDATE, "hand follower's like to the stranger",
             lambda c: Action(Op.UPDATE, fl(c), _replace(fl(c), user=c.stranger))),
    ]


def _move(c: Ctx, obj: StoredObject, name: str, bucket: str | None = None) -> Action:
    """An object move as the Storage API writes it: one UPDATE of the source row giving it its
    new name (and bucket) and the mover as owner, which RLS must allow (USING on the source,
    WITH CHECK on the destination)."""
    after = _replace(obj, name=name, bucket=bucket or obj.bucket, owner=c.viewer.user_id)
    return Action(Op.UPDATE, obj, after)


def _object_cases(bucket: Literal["avatars", "videos"], field: str, filename: str) -> list[Case]:
    table = f"objects:{bucket}"
    other = "videos" if bucket == "avatars" else "avatars"
    own_field = "user_avatars" if bucket == "avatars" else "user_clips"
    nobody = "5b0e7e11-0000-4000-8000-00000000dead"  # a uuid that names no user

    def obj(c: Ctx) -> StoredObject:
        return getattr(c.mw, field)[c.privacy]  # type: ignore[no-any-return]

    def mine(c: Ctx) -> StoredObject:
        if c.actor == "self":
            return obj(c)
        return getattr(c.mw, own_field)[c.own_label]  # type: ignore[no-any-return]

    def new(c: Ctx, folder: object, what: str) -> StoredObject:
        return StoredObject(c.new_id(f"object/{bucket}/{what}"), bucket, f"{folder}/new-{filename}",
                            c.viewer.user_id)

    return [
        Case(table, Op.SELECT, "owner's object", lambda c: Action(Op.SELECT, obj(c))),
        Case(table, Op.INSERT, "into owner's folder",
             lambda c: Action(Op.INSERT, new(c, c.owner, "owner"))),
        Case(table, Op.INSERT, "into actor's folder",
             lambda c: Action(Op.INSERT, new(c, c.me, "mine"))),
        Case(table, Op.INSERT, "into a folder naming no user",
             lambda c: Action(Op.INSERT, new(c, nobody, "nobody"))),
        Case(table, Op.UPDATE, "rename within owner's folder",
             lambda c: _move(c, obj(c), f"{c.owner}/renamed-{filename}")),
        Case(table, Op.UPDATE, "move to actor's folder",
             lambda c: _move(c, obj(c), f"{c.me}/moved-{filename}")),
        Case(table, Op.UPDATE, "move to another user's folder",
             lambda c: _move(c, obj(c), f"{c.other_user}/moved-{filename}")),
        Case(table, Op.UPDATE, "move to a folder naming no user",
             lambda c: _move(c, obj(c), f"{nobody}/moved-{filename}")),
        Case(table, Op.UPDATE, "move to a folder that is not a user id",
             lambda c: _move(c, obj(c), f"shared/moved-{filename}")),
        Case(table, Op.UPDATE, f"move into {other}, same name",
             lambda c: _move(c, obj(c), obj(c).name, other)),
        Case(table, Op.UPDATE, "move actor's own object into owner's folder",
             lambda c: _move(c, mine(c), f"{c.owner}/planted-{filename}")),
        Case(table, Op.UPDATE, f"move actor's own object into {other}",
             lambda c: _move(c, mine(c), mine(c).name, other)),
        Case(table, Op.UPDATE, "change the object id",
             lambda c: Action(Op.UPDATE, obj(c), _replace(obj(c), id=c.new_id("object-id")))),
        Case(table, Op.DELETE, "owner's object", lambda c: Action(Op.DELETE, obj(c))),
        Case(table, Op.DELETE, "actor's own object", lambda c: Action(Op.DELETE, mine(c))),
    ]


ANY_PRIVACY = (Privacy.PUBLIC,)  # what a request for one's account or a bucket row ignores


def _deletion_request_cases() -> list[Case]:
    table = "account_deletion_requests"

    def owners(c: Ctx) -> DeletionRequest:
        return c.mw.deletion_requests[c.privacy]

    def ask(c: Ctx, user: uuid.UUID) -> Action:
        return Action(Op.INSERT, DeletionRequest(user), removed=_request_of(c, user))

    cases = [
        Case(table, Op.SELECT, "owner's request", lambda c: Action(Op.SELECT, owners(c))),
        Case(table, Op.INSERT, "for owner, aal1", lambda c: ask(c, c.owner), aal="aal1"),
        Case(table, Op.INSERT, "for owner, aal2", lambda c: ask(c, c.owner), aal="aal2"),
        Case(table, Op.INSERT, "for the actor, aal1", lambda c: ask(c, c.me), aal="aal1"),
        Case(table, Op.INSERT, "for the actor, aal2", lambda c: ask(c, c.me), aal="aal2"),
        Case(table, Op.UPDATE, "requested_at of owner's request",
             lambda c: Action(Op.UPDATE, owners(c),
                              _replace(owners(c), requested_at="2026-02-02T00:00:00Z"))),
        Case(table, Op.DELETE, "owner's request", lambda c: Action(Op.DELETE, owners(c))),
    ]
    return [dataclasses.replace(case, privacies=ANY_PRIVACY) for case in cases]


def _bucket_cases() -> list[Case]:
    avatars, videos = STACK_BUCKETS["avatars"], STACK_BUCKETS["videos"]
    cases = [
        Case("buckets", Op.SELECT, "avatars", lambda c: Action(Op.SELECT, avatars)),
        Case("buckets", Op.SELECT, "videos", lambda c: Action(Op.SELECT, videos)),
        Case("buckets", Op.INSERT, "a new public bucket",
             lambda c: Action(Op.INSERT, Bucket(f"matrix-{c.new_id('bucket')}", public=True))),
        Case("buckets", Op.UPDATE, "make videos public",
             lambda c: Action(Op.UPDATE, videos, _replace(videos, public=True))),
        Case("buckets", Op.UPDATE, "let avatars take any type",
             lambda c: Action(Op.UPDATE, avatars,
                              _replace(avatars, allowed_mime_types=("text/html",)))),
    ]
    return [dataclasses.replace(case, privacies=ANY_PRIVACY) for case in cases]


# D33: the times the database fills and profiles.time_zone, chosen by the writer. Each is tried
# in the past, now ('now': the transaction's time) and the future, on insert (every column) and
# on update (created_at; updated_at is the database's own on update, a trigger sets it). The
# rule ignores the owner's privacy: one level. The cases come last, so the token rotation of the
# cells before them is unchanged.
CHOSEN_TIMES: dict[str, str] = {
    "past": "2001-02-03T04:05:06Z", "now": "now", "future": "2999-12-31T23:59:59Z"}
DB_FILLED: dict[str, tuple[str, ...]] = {  # table -> the time columns the database fills
    "profiles": ("created_at", "updated_at"),
    "follows": ("created_at",),
    "blocks": ("created_at",),
    "posts": ("created_at", "updated_at"),
    "videos": ("created_at", "updated_at"),
    "comments": ("created_at", "updated_at"),
    "likes": ("created_at",),
}


def _own_new_row(table: str) -> Builder:
    """The insert of a row of `table` that is the actor's own (the rule the cases of the table
    already judge), to which a chosen time is added."""
    def public_post(c: Ctx) -> Post:
        return c.mw.posts[Privacy.PUBLIC]

    builders: dict[str, Builder] = {
        "profiles": lambda c: Action(
            Op.INSERT, _owner_user(c), added=(_replace(_owner_user(c), has_profile=False),)),
        "follows": lambda c: _follow(c, FollowStatus.ACCEPTED),
        "blocks": lambda c: Action(Op.INSERT, Block(c.me, c.owner)),
        "posts": lambda c: Action(Op.INSERT, Post(c.new_id("posts"), c.me)),
        "videos": lambda c: Action(Op.INSERT, Video(c.new_id("videos"), c.me)),
        "comments": lambda c: Action(
            Op.INSERT, Comment(c.new_id("comment/posts"), c.me, public_post(c).ref)),
        "likes": lambda c: _like_insert(c, public_post(c)),
    }
    return builders[table]


def _existing_row(table: str) -> Callable[[Ctx], Entity]:
    """A row of `table` the world holds, whose created_at an update tries to change."""
    rows: dict[str, Callable[[Ctx], Entity]] = {
        "profiles": _owner_user,
        "follows": _accepted,
        "blocks": _block_b,
        "posts": lambda c: c.mw.posts[c.privacy],
        "videos": lambda c: c.mw.videos[c.privacy],
        "comments": lambda c: c.mw.follower_comments[c.privacy],
        "likes": lambda c: c.mw.follower_likes[c.privacy],
    }
    return rows[table]


def _choosing(build: Builder, overrides: tuple[tuple[str, str], ...]) -> Builder:
    def chosen(c: Ctx) -> Action:
        action = build(c)
        return dataclasses.replace(action, target=_replace(action.target, overrides=overrides))
    return chosen


def _changing(row: Callable[[Ctx], Entity], overrides: tuple[tuple[str, str], ...]) -> Builder:
    return lambda c: Action(Op.UPDATE, row(c), _replace(row(c), overrides=overrides))


def _asking_at(requested_at: str) -> Builder:
    """The actor's own deletion request, made with a chosen requested_at (its due time)."""
    return lambda c: Action(Op.INSERT, DeletionRequest(c.me, requested_at=requested_at),
                            removed=_request_of(c, c.me))


def _time_cases() -> list[Case]:
    one = (Privacy.PUBLIC,)
    cases = [
        Case(table, Op.INSERT, f"own row, {column} {when}",
             _choosing(_own_new_row(table), ((column, value),)), privacies=one)
        for table, columns in DB_FILLED.items()
        for column in columns
        for when, value in CHOSEN_TIMES.items()
    ]
    cases += [
        Case("account_deletion_requests", Op.INSERT, f"for the actor, aal2, requested_at {when}",
             _asking_at(value), aal="aal2", privacies=one)
        for when, value in CHOSEN_TIMES.items()
    ]
    cases.append(Case("profiles", Op.INSERT, "own profile, time_zone chosen",
                      _choosing(_own_new_row("profiles"), (("time_zone", "Pacific/Kiritimati"),)),
                      privacies=one))
    cases += [
        Case(table, Op.UPDATE, f"created_at {when}",
             _changing(_existing_row(table), (("created_at", value),)), privacies=one)
        for table in DB_FILLED
        for when, value in CHOSEN_TIMES.items() if when != "now"
    ]
    cases.append(Case("profiles", Op.UPDATE, "time_zone",
                      _changing(_owner_user, (("time_zone", "Pacific/Kiritimati"),)),
                      privacies=one))
    return cases


def _hidden_time_cases(table: str, kind: type[Post] | type[Video]) -> list[Case]:
    """hidden_at in the past, now and the future: any value hides (R: hidden content is seen
    by nobody else), on insert, on update, and for a reader of a row hidden at that time."""
    one = (Privacy.PUBLIC,)

    def visible(c: Ctx) -> Post | Video:
        return getattr(c.mw, table)[c.privacy]  # type: ignore[no-any-return]

    def hidden_at(c: Ctx, when: str) -> Post | Video:
        return kind(c.new_id(f"{table}/hidden/{when}"), c.owner,  # type: ignore[arg-type]
                    hidden=True, hidden_when=CHOSEN_TIMES[when])

    cases: list[Case] = []
    for when, value in CHOSEN_TIMES.items():
        cases += [
            Case(table, Op.SELECT, f"hidden at {when}",
                 lambda c, w=when: Action(Op.SELECT, hidden_at(c, w), added=(hidden_at(c, w),)),
                 privacies=one),
            Case(table, Op.INSERT, f"as owner, hidden_at {when}",
                 lambda c, w=when: Action(Op.INSERT, hidden_at(c, w)), privacies=one),
            Case(table, Op.UPDATE, f"set hidden_at {when}",
                 lambda c, v=value: Action(Op.UPDATE, visible(c), _replace(
                     visible(c), hidden=True, hidden_when=v)), privacies=one),
        ]
    return cases


# Object names at several depths and shapes, each uploaded as the actor ({me}: the actor's id,
# {other}: another user's, {file}: the bucket's file name). The rule reads the first folder:
# a name with no folder is nobody's; `..` and encoded slashes are text to it, not paths.
OBJECT_NAME_SHAPES: dict[str, str] = {
    "nested folders": "{me}/a/b/c/{file}",
    "dots climbing out": "{me}/../{other}/{file}",
    "a leading dot folder": "./{me}/{file}",
    "an encoded slash": "{me}%2F{file}",
    "a trailing slash": "{me}/a/",
    "no folder, named by the id": "{me}",
    "the id in capitals": "{ME}/{file}",
    "dots in the file name": "{me}/.hidden..{file}",
}


def _object_name_cases(bucket: Literal["avatars", "videos"], filename: str) -> list[Case]:
    table = f"objects:{bucket}"

    def named(c: Ctx, shape: str) -> Action:
        name = OBJECT_NAME_SHAPES[shape].format(
            me=c.me, ME=str(c.me).upper(), other=c.other_user, file=filename)
        return Action(Op.INSERT, StoredObject(c.new_id(f"object/{bucket}/{shape}"), bucket,
                                              name, c.viewer.user_id))

    return [Case(table, Op.INSERT, f"name with {shape}",
                 lambda c, s=shape: named(c, s), privacies=(Privacy.PUBLIC,))
            for shape in OBJECT_NAME_SHAPES]


def _constraint_cases() -> list[Case]:
    """Writes that break a table constraint the rules rely on, refused for everyone (service
    too); what the refusal says is judged by soberharness.checker.refusal_text. (A second like
    on one parent and a second profile are cases above.)"""
    one = (Privacy.PUBLIC,)
    return [
        Case("follows", Op.INSERT, "follow oneself",
             lambda c: Action(Op.INSERT, Follow(c.me, c.me)), privacies=one),
        Case("blocks", Op.INSERT, "block oneself",
             lambda c: Action(Op.INSERT, Block(c.me, c.me)), privacies=one),
    ]


# A comment or like naming two parents: the owner's visible post (its parent, which the rules
# read) and the owner's hidden video (a second one the writer may not engage with).
TWO_PARENTS = "two parents (visible post, hidden video)"


def _two_parent_cases() -> list[Case]:
    """One parent per comment and like (comments_one_parent, likes_one_parent), tried by an
    insert naming two and by an update adding a second; refused for everyone (D11)."""
    one = (Privacy.PUBLIC,)

    def second(c: Ctx) -> ContentRef:
        return c.mw.hidden_videos[c.privacy].ref

    def comment(c: Ctx) -> Action:
        return Action(Op.INSERT, Comment(c.new_id("comment/two-parents"), c.me,
                                         c.mw.posts[c.privacy].ref, second_parent=second(c)))

    def like(c: Ctx) -> Action:
        parents = (c.mw.posts[c.privacy].ref, second(c))
        mine = tuple(lk for lk in c.mw.world.likes.values()
                     if lk.user == c.me and lk.parent in parents)
        return Action(Op.INSERT, Like(c.new_id("like/two-parents"), c.me, parents[0],
                                      second_parent=parents[1]), removed=mine)

    def fc(c: Ctx) -> Comment:
        return c.mw.follower_comments_on[c.privacy]["posts"]

    def fl(c: Ctx) -> Like:
        return c.mw.follower_likes_on[c.privacy]["posts"]

    # The like update first removes the follower's like on the video (one like per user and
    # parent would refuse it otherwise, whatever the one-parent check says).
    return [
        Case("comments", Op.INSERT, f"on {TWO_PARENTS}", comment, privacies=one),
        Case("likes", Op.INSERT, f"on {TWO_PARENTS}", like, privacies=one),
        Case("comments", Op.UPDATE, "second parent for follower's comment on visible post",
             lambda c: Action(Op.UPDATE, fc(c), _replace(fc(c), second_parent=second(c))),
             privacies=one),
        Case("likes", Op.UPDATE, "second parent for follower's like on visible post",
             lambda c: Action(Op.UPDATE, fl(c), _replace(fl(c), second_parent=second(c)),
                              removed=(c.mw.follower_likes_on[c.privacy]["hidden_videos"],)),
             privacies=one),
    ]


CASES += _content_cases("posts", Post)
CASES += _content_cases("videos", Video)
CASES += _reaction_cases()
CASES += _object_cases("avatars", "avatars", "avatar.png")
CASES += _object_cases("videos", "clips", "clip.mp4")
CASES += _deletion_request_cases()
CASES += _bucket_cases()
CASES += _time_cases()
CASES += _constraint_cases()
CASES += _hidden_time_cases("posts", Post)
CASES += _hidden_time_cases("videos", Video)
CASES += _object_name_cases("avatars", "avatar.png")
CASES += _object_name_cases("videos", "clip.mp4")
CASES += _two_parent_cases()  # last: the token rotation of the cells before is unchanged


def cells(mw: MatrixWorld) -> Iterator[tuple[Cell, Ctx, Case]]:
    """Every cell of the matrix, with what is needed to run and judge it."""
    for ci, case in enumerate(CASES):
        for pi, privacy in enumerate(case.privacies):
            for ai, actor in enumerate(ACTORS):
                viewer = mw.viewer(actor, privacy)
                token: TokenVariant | None = None
                if viewer.role is Role.AUTHENTICATED:
                    token = TOKEN_VARIANTS[(ci + pi + ai) % len(TOKEN_VARIANTS)]
                    if case.aal is not None:
                        token = dataclasses.replace(token, aal=case.aal)
                    viewer = dataclasses.replace(viewer, aal=token.aal)
                ctx = Ctx(mw, privacy, actor, viewer, token)
                cell = Cell(case.table, case.op, actor, privacy.value, case.name,
                            token.label if token else "")
                yield cell, ctx, case
