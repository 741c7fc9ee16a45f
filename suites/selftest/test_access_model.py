"""The access model against examples written by hand from the rules' text.

Every expected value here is read off /work/shared/spec/access-rules.md or
docs/access-decisions.md, never computed by the model. Tiny worlds: O owns, V views.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from hypothesis import given, settings

from soberharness.access import TABLES, AccessModel, Relation, key_of, table_of
from soberharness.world.entities import (
    Block,
    Comment,
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
from soberharness.world.matrix_world import ACTORS, build_matrix_world
from soberharness.world.strategies import all_viewers, worlds

PUBLIC, COMMUNITY, PRIVATE = Privacy.PUBLIC, Privacy.COMMUNITY, Privacy.PRIVATE
ACCEPTED, PENDING = FollowStatus.ACCEPTED, FollowStatus.PENDING


def uid(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_DNS, name)


O_ID, V_ID, M_ID, X_ID = uid("owner"), uid("viewer"), uid("moderator"), uid("other")
ANON, SERVICE = Viewer.anon(), Viewer.service()


def tiny_world(
    privacy: Privacy = PUBLIC,
    follows: tuple[Follow, ...] = (),
    blocks: tuple[Block, ...] = (),
    hidden: bool = False,
) -> World:
    """Owner O (given privacy), viewer V, moderator M and another user X (public); O has a
    post P and a video W with the given hidden flag."""
    world = World()
    world.add(User(O_ID, "owner", privacy))
    world.add(User(V_ID, "viewer"))
    world.add(User(M_ID, "moderator", moderator=True))
    world.add(User(X_ID, "other"))
    world.add(Post(uid("post"), O_ID, hidden=hidden))
    world.add(Video(uid("video"), O_ID, hidden=hidden))
    for row in (*follows, *blocks):
        world.add(row)
    return world


def as_user(world: World, user_id: uuid.UUID) -> Viewer:
    return Viewer.of(world.users[user_id])


def post_of(world: World) -> Post:
    return world.posts[uid("post")]


# --------------------------------------------------------------------- reading content


@pytest.mark.parametrize("privacy", list(Privacy))
def test_rule1_service_and_moderator_see_hidden_content(privacy: Privacy) -> None:
    world = tiny_world(privacy, hidden=True, blocks=(Block(O_ID, M_ID),))
    model = AccessModel(world)
    assert model.can_read(SERVICE, post_of(world))
    assert model.can_read(as_user(world, M_ID), post_of(world))  # rule 1 before rule 4
    assert model.can_read(as_user(world, M_ID), world.videos[uid("video")])


@pytest.mark.parametrize("privacy", list(Privacy))
def test_rule2_self_sees_own_hidden_content(privacy: Privacy) -> None:
    world = tiny_world(privacy, hidden=True)
    assert AccessModel(world).can_read(as_user(world, O_ID), post_of(world))


def test_rule3_hidden_content_is_seen_by_nobody_else() -> None:
    world = tiny_world(PUBLIC, hidden=True, follows=(Follow(V_ID, O_ID, ACCEPTED),))
    model = AccessModel(world)
    assert not model.can_read(ANON, post_of(world))
    assert not model.can_read(as_user(world, V_ID), post_of(world))  # even a follower


@pytest.mark.parametrize("blocker_is_owner", [True, False])
def test_rule4_blocked_sees_nothing_either_direction(blocker_is_owner: bool) -> None:
    block = Block(O_ID, V_ID) if blocker_is_owner else Block(V_ID, O_ID)
    world = tiny_world(PUBLIC, blocks=(block,))
    model = AccessModel(world)
    viewer = as_user(world, V_ID)
    assert model.relation(viewer, O_ID) is Relation.BLOCKED
    assert not model.can_read(viewer, post_of(world))
    assert not model.can_read(viewer, world.videos[uid("video")])
    assert model.can_read(ANON, post_of(world))  # the post itself is public


def test_rule5_public_content_is_seen_by_everyone() -> None:
    world = tiny_world(PUBLIC)
    model = AccessModel(world)
    assert model.can_read(ANON, post_of(world))
    assert model.can_read(as_user(world, V_ID), post_of(world))


def test_rule6_community_content_is_seen_when_signed_in() -> None:
    world = tiny_world(COMMUNITY)
    model = AccessModel(world)
    assert not model.can_read(ANON, post_of(world))
    assert model.relation(as_user(world, V_ID), O_ID) is Relation.STRANGER
    assert model.can_read(as_user(world, V_ID), post_of(world))


@pytest.mark.parametrize(
    ("status", "expected"), [(ACCEPTED, True), (PENDING, False), (None, False)]
)
def test_rule7_private_content_only_for_followers(
    status: FollowStatus | None, expected: bool
) -> None:
    follows = () if status is None else (Follow(V_ID, O_ID, status),)
    world = tiny_world(PRIVATE, follows=follows)
    model = AccessModel(world)
    assert model.can_read(as_user(world, V_ID), post_of(world)) is expected
    assert not model.can_read(ANON, post_of(world))


def test_being_followed_by_owner_gives_nothing() -> None:
    world = tiny_world(PRIVATE, follows=(Follow(O_ID, V_ID, ACCEPTED),))
    model = AccessModel(world)
    assert model.relation(as_user(world, V_ID), O_ID) is Relation.STRANGER
    assert not model.can_read(as_user(world, V_ID), post_of(world))


def test_relation_precedence() -> None:
    world = tiny_world(PUBLIC, follows=(Follow(V_ID, O_ID, PENDING),))
    model = AccessModel(world)
    assert model.relation(ANON, O_ID) is Relation.ANON
    assert model.relation(SERVICE, O_ID) is Relation.SERVICE
    assert model.relation(as_user(world, O_ID), O_ID) is Relation.SELF
    assert model.relation(as_user(world, V_ID), O_ID) is Relation.REQUESTED
    assert model.relation(as_user(world, M_ID), O_ID) is Relation.MODERATOR
    assert model.relation(as_user(world, M_ID), M_ID) is Relation.MODERATOR


# ------------------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    ("privacy", "anon", "stranger"),
    [(PUBLIC, True, True), (COMMUNITY, False, True), (PRIVATE, False, True)],
)
def test_profiles(privacy: Privacy, anon: bool, stranger: bool) -> None:
    world = tiny_world(privacy)
    model = AccessModel(world)
    owner = world.users[O_ID]
    assert model.can_read(ANON, owner) is anon
    assert model.can_read(as_user(world, V_ID), owner) is stranger
    assert model.can_read(as_user(world, O_ID), owner)
    assert model.can_read(SERVICE, owner)


def test_blocked_never_sees_profile_but_moderator_does() -> None:
    world = tiny_world(PUBLIC, blocks=(Block(O_ID, V_ID), Block(O_ID, M_ID)))
    model = AccessModel(world)
    assert not model.can_read(as_user(world, V_ID), world.users[O_ID])
    assert model.can_read(as_user(world, M_ID), world.users[O_ID])


def test_blocker_does_not_see_blocked_profile() -> None:
    world = tiny_world(PUBLIC, blocks=(Block(O_ID, V_ID),))
    model = AccessModel(world)
    # "a block exists between V and O, in either direction": O is blocked towards V too.
    assert not model.can_read(as_user(world, O_ID), world.users[V_ID])


def test_user_without_profile_has_no_row() -> None:
    world = tiny_world()
    world.add(User(uid("new"), "new", has_profile=False))
    model = AccessModel(world)
    assert not model.can_read(SERVICE, world.users[uid("new")])
    assert uid("new") not in model.visible(SERVICE)["profiles"]


# ------------------------------------------------------------------- comments, likes


def test_comment_needs_parent_and_no_block_with_its_author() -> None:
    world = tiny_world(PUBLIC, blocks=(Block(X_ID, V_ID),))
    post = post_of(world)
    by_x = world.add(Comment(uid("c-x"), X_ID, post.ref))
    by_o = world.add(Comment(uid("c-o"), O_ID, post.ref))
    model = AccessModel(world)
    viewer = as_user(world, V_ID)
    assert model.can_read(viewer, by_o)
    assert not model.can_read(viewer, by_x)  # X blocked V
    assert model.can_read(ANON, by_x)
    assert model.can_read(as_user(world, M_ID), by_x)


def test_comment_on_hidden_or_private_parent_is_not_seen() -> None:
    world = tiny_world(PRIVATE, hidden=False)
    comment = world.add(Comment(uid("c"), X_ID, post_of(world).ref))
    model = AccessModel(world)
    assert not model.can_read(as_user(world, V_ID), comment)
    hidden = tiny_world(PUBLIC, hidden=True)
    own = hidden.add(Comment(uid("c"), V_ID, post_of(hidden).ref))
    model = AccessModel(hidden)
    assert not model.can_read(as_user(hidden, V_ID), own)  # even its author (D1 example)
    assert model.can_read(as_user(hidden, O_ID), own)
    assert model.can_read(as_user(hidden, M_ID), own)  # D2


def test_likes_follow_their_parent() -> None:
    world = tiny_world(COMMUNITY, blocks=(Block(X_ID, V_ID),))
    like = world.add(Like(uid("l"), X_ID, post_of(world).ref))
    model = AccessModel(world)
    assert not model.can_read(ANON, like)
    assert model.can_read(as_user(world, V_ID), like)  # blocks with the liker do not matter
    assert model.can_read(as_user(world, M_ID), like)


# -------------------------------------------------------------------- follows, blocks


def test_follow_visibility() -> None:
    world = tiny_world(
        COMMUNITY,
        follows=(Follow(X_ID, O_ID, ACCEPTED), Follow(V_ID, O_ID, PENDING)),
    )
    accepted, pending = world.follows
    model = AccessModel(world)
    assert model.can_read(as_user(world, X_ID), accepted)  # party
    assert model.can_read(as_user(world, O_ID), pending)  # party
    assert model.can_read(as_user(world, V_ID), pending)  # party
    assert not model.can_read(as_user(world, X_ID), pending)  # pending: never to others
    assert model.can_read(as_user(world, V_ID), accepted)  # sees both profiles
    assert not model.can_read(ANON, accepted)  # O's community profile is hidden from anon
    assert model.can_read(as_user(world, M_ID), pending)  # D2
    assert model.can_read(SERVICE, pending)


def test_accepted_follow_needs_both_profiles_visible() -> None:
    world = tiny_world(PUBLIC, follows=(Follow(X_ID, O_ID, ACCEPTED),), blocks=(Block(X_ID, V_ID),))
    model = AccessModel(world)
    assert not model.can_read(as_user(world, V_ID), world.follows[0])  # D3: X is invisible to V
    assert model.can_read(ANON, world.follows[0])  # both public


def test_blocks_seen_only_by_blocker_and_service() -> None:
    world = tiny_world(blocks=(Block(O_ID, V_ID),))
    block = world.blocks[0]
    model = AccessModel(world)
    assert model.can_read(as_user(world, O_ID), block)
    assert model.can_read(SERVICE, block)
    assert not model.can_read(as_user(world, V_ID), block)
    assert not model.can_read(as_user(world, M_ID), block)  # D2
    assert not model.can_read(ANON, block)


# -------------------------------------------------------------------------- writing


def test_anon_writes_nothing() -> None:
    world = tiny_world()
    model = AccessModel(world)
    post = post_of(world)
    assert not model.can_insert(ANON, Post(uid("new"), O_ID))
    assert not model.can_update(ANON, post, dataclasses.replace(post, body="x"))
    assert not model.can_delete(ANON, post)
    assert not model.can_insert(ANON, StoredObject(uid("o"), "avatars", f"{O_ID}/a.png", None))


def test_profile_insert_and_update() -> None:
    world = tiny_world()
    newcomer = world.add(User(uid("new"), "new", has_profile=False))
    model = AccessModel(world)
    me = as_user(world, uid("new"))
    row = dataclasses.replace(newcomer, has_profile=True)
    assert model.can_insert(me, row)
    assert not model.can_insert(as_user(world, V_ID), row)  # not their own row
    assert model.can_insert(SERVICE, row)
    assert not model.can_insert(me, dataclasses.replace(row, moderator=True))
    owner = world.users[O_ID]
    assert not model.can_insert(as_user(world, O_ID), owner)  # already has a profile
    assert model.can_update(as_user(world, O_ID), owner, dataclasses.replace(owner, handle="o2"))
    assert model.can_update(
        as_user(world, O_ID), owner, dataclasses.replace(owner, privacy=PRIVATE)
    )
    assert not model.can_update(as_user(world, V_ID), owner, dataclasses.replace(owner, handle="h"))
    assert not model.can_update(as_user(world, M_ID), owner, dataclasses.replace(owner, handle="h"))
    assert not model.can_update(
        as_user(world, O_ID), owner, dataclasses.replace(owner, id=uid("other-id"))
    )
    assert not model.can_update(
        as_user(world, O_ID), owner, dataclasses.replace(owner, moderator=True)
    )
    assert model.can_update(SERVICE, owner, dataclasses.replace(owner, moderator=True))
    assert not model.can_delete(as_user(world, O_ID), owner)  # D9
    assert model.can_delete(SERVICE, owner)


def test_post_insert_only_as_oneself_and_not_hidden() -> None:
    world = tiny_world()
    model = AccessModel(world)
    me = as_user(world, V_ID)
    assert model.can_insert(me, Post(uid("p"), V_ID))
    assert not model.can_insert(me, Post(uid("p"), O_ID))
    assert not model.can_insert(me, Post(uid("p"), V_ID, hidden=True))
    assert not model.can_insert(me, Video(uid("v"), O_ID))
    assert model.can_insert(me, Video(uid("v"), V_ID))
    assert not model.can_insert(me, Post(uid("post"), V_ID))  # id taken
    assert model.can_insert(SERVICE, Post(uid("p"), O_ID, hidden=True))


def test_post_guarded_columns() -> None:
    world = tiny_world()
    post = post_of(world)
    model = AccessModel(world)
    author, moderator = as_user(world, O_ID), as_user(world, M_ID)
    assert model.can_update(author, post, dataclasses.replace(post, body="new"))
    assert not model.can_update(author, post, dataclasses.replace(post, hidden=True))
    assert not model.can_update(author, post, dataclasses.replace(post, author=V_ID))
    assert model.can_update(moderator, post, dataclasses.replace(post, hidden=True))
    assert not model.can_update(moderator, post, dataclasses.replace(post, body="edited"))  # D7
    assert not model.can_update(moderator, post, dataclasses.replace(post, author=M_ID))
    assert not model.can_update(as_user(world, V_ID), post, dataclasses.replace(post, body="x"))
    video = world.videos[uid("video")]
    assert model.can_update(author, video, dataclasses.replace(video, title="t"))
    assert not model.can_update(author, video, dataclasses.replace(video, owner=V_ID))
    assert model.can_update(moderator, video, dataclasses.replace(video, hidden=True))


def test_moderator_clears_hidden_and_author_cannot_touch_hidden_post() -> None:
    world = tiny_world(hidden=True)
    post = post_of(world)
    model = AccessModel(world)
    assert model.can_update(as_user(world, M_ID), post, dataclasses.replace(post, hidden=False))
    assert not model.can_update(as_user(world, O_ID), post, dataclasses.replace(post, hidden=False))
    assert model.can_update(as_user(world, O_ID), post, dataclasses.replace(post, body="b"))


def test_moderator_author_holds_both_rights() -> None:
    world = tiny_world()
    post = world.add(Post(uid("mp"), M_ID))
    model = AccessModel(world)
    both = dataclasses.replace(post, body="b", hidden=True)
    assert model.can_update(as_user(world, M_ID), post, both)  # D15


def test_post_delete() -> None:
    world = tiny_world(PRIVATE)
    post = post_of(world)
    model = AccessModel(world)
    assert model.can_delete(as_user(world, O_ID), post)
    assert model.can_delete(as_user(world, M_ID), post)
    assert not model.can_delete(as_user(world, V_ID), post)
    assert model.can_delete(SERVICE, post)


def test_update_needs_read_first() -> None:
    world = tiny_world(PUBLIC, hidden=True)
    comment = world.add(Comment(uid("c"), V_ID, post_of(world).ref))
    model = AccessModel(world)
    changed = dataclasses.replace(comment, body="edited")
    assert not model.can_update(as_user(world, V_ID), comment, changed)  # D1 example
    assert not model.can_delete(as_user(world, V_ID), comment)


def test_comment_writes() -> None:
    world = tiny_world(PUBLIC, blocks=(Block(O_ID, X_ID),))
    ref = post_of(world).ref
    model = AccessModel(world)
    me = as_user(world, V_ID)
    assert model.can_insert(me, Comment(uid("c"), V_ID, ref))
    assert not model.can_insert(me, Comment(uid("c"), O_ID, ref))  # only as oneself
    assert not model.can_insert(as_user(world, X_ID), Comment(uid("c"), X_ID, ref))  # block
    assert not model.can_insert(as_user(world, M_ID), Comment(uid("c"), V_ID, ref))
    assert model.can_insert(as_user(world, M_ID), Comment(uid("c"), M_ID, ref))  # D8
    comment = world.add(Comment(uid("c"), V_ID, ref))
    model = AccessModel(world)
    assert model.can_update(me, comment, dataclasses.replace(comment, body="edited"))
    assert not model.can_update(me, comment, dataclasses.replace(comment, author=O_ID))
    assert not model.can_update(
        as_user(world, O_ID), comment, dataclasses.replace(comment, body="x")
    )
    assert not model.can_update(
        as_user(world, M_ID), comment, dataclasses.replace(comment, body="x")
    )
    assert model.can_delete(me, comment)
    assert model.can_delete(as_user(world, O_ID), comment)  # parent's owner
    assert model.can_delete(as_user(world, M_ID), comment)


def test_comment_insert_needs_visible_parent() -> None:
    world = tiny_world(PRIVATE, follows=(Follow(V_ID, O_ID, PENDING),))
    model = AccessModel(world)
    ref = post_of(world).ref
    assert not model.can_insert(as_user(world, V_ID), Comment(uid("c"), V_ID, ref))
    assert not model.can_insert(as_user(world, V_ID), Like(uid("l"), V_ID, ref))
    assert not model.can_insert(
        as_user(world, V_ID), Comment(uid("c"), V_ID, Post(uid("no"), O_ID).ref)
    )


def test_like_writes() -> None:
    world = tiny_world(COMMUNITY, blocks=(Block(M_ID, O_ID),))
    ref = post_of(world).ref
    like = world.add(Like(uid("l"), V_ID, ref))
    model = AccessModel(world)
    me = as_user(world, V_ID)
    assert not model.can_insert(me, Like(uid("l2"), V_ID, ref))  # once per user and parent
    assert not model.can_insert(SERVICE, Like(uid("l2"), V_ID, ref))  # D11
    assert model.can_insert(as_user(world, X_ID), Like(uid("l2"), X_ID, ref))
    assert not model.can_insert(as_user(world, M_ID), Like(uid("l2"), M_ID, ref))  # D8 block
    assert not model.can_update(me, like, dataclasses.replace(like, parent=ref))  # D6
    assert model.can_delete(me, like)
    assert not model.can_delete(as_user(world, O_ID), like)  # only its owner
    assert not model.can_delete(as_user(world, M_ID), like)


def test_follow_insert() -> None:
    world = tiny_world(PUBLIC, blocks=(Block(X_ID, V_ID),))
    world.add(User(uid("p"), "priv", PRIVATE))
    model = AccessModel(world)
    me = as_user(world, V_ID)
    assert model.can_insert(me, Follow(V_ID, O_ID, ACCEPTED))
    assert not model.can_insert(me, Follow(V_ID, O_ID, PENDING))  # D5
    assert model.can_insert(me, Follow(V_ID, uid("p"), PENDING))
    assert not model.can_insert(me, Follow(V_ID, uid("p"), ACCEPTED))  # D5
    assert not model.can_insert(me, Follow(O_ID, V_ID, ACCEPTED))  # only as the follower
    assert not model.can_insert(me, Follow(V_ID, V_ID, ACCEPTED))  # never to oneself
    assert not model.can_insert(me, Follow(V_ID, X_ID, ACCEPTED))  # X blocked V
    assert not model.can_insert(as_user(world, X_ID), Follow(X_ID, V_ID, ACCEPTED))
    assert not model.can_insert(SERVICE, Follow(V_ID, V_ID, ACCEPTED))  # D11
    assert model.can_insert(SERVICE, Follow(V_ID, uid("p"), ACCEPTED))


def test_follow_duplicate_refused_for_everyone() -> None:
    world = tiny_world(PUBLIC, follows=(Follow(V_ID, O_ID, ACCEPTED),))
    model = AccessModel(world)
    assert not model.can_insert(as_user(world, V_ID), Follow(V_ID, O_ID, ACCEPTED))
    assert not model.can_insert(SERVICE, Follow(V_ID, O_ID, ACCEPTED))


def test_follow_status_moves_only_by_followee_from_pending() -> None:
    world = tiny_world(PRIVATE, follows=(Follow(V_ID, O_ID, PENDING),))
    pending = world.follows[0]
    accepted = dataclasses.replace(pending, status=ACCEPTED)
    model = AccessModel(world)
    assert model.can_update(as_user(world, O_ID), pending, accepted)
    assert not model.can_update(as_user(world, V_ID), pending, accepted)
    assert not model.can_update(as_user(world, M_ID), pending, accepted)
    assert model.can_update(SERVICE, pending, accepted)
    back = tiny_world(PRIVATE, follows=(accepted,))
    model = AccessModel(back)
    assert not model.can_update(as_user(back, O_ID), accepted, pending)  # D4: one way
    assert model.can_delete(as_user(back, O_ID), accepted)
    assert model.can_delete(as_user(back, V_ID), accepted)
    assert not model.can_delete(as_user(back, X_ID), accepted)
    assert not model.can_delete(as_user(back, M_ID), accepted)


def test_block_writes() -> None:
    world = tiny_world(PUBLIC, blocks=(Block(O_ID, V_ID),))
    model = AccessModel(world)
    block = world.blocks[0]
    assert model.can_insert(as_user(world, V_ID), Block(V_ID, O_ID))  # D14
    assert not model.can_insert(as_user(world, V_ID), Block(O_ID, X_ID))
    assert not model.can_insert(as_user(world, X_ID), Block(X_ID, X_ID))
    assert not model.can_insert(SERVICE, Block(X_ID, X_ID))
    assert not model.can_insert(as_user(world, O_ID), Block(O_ID, V_ID))  # exists
    assert model.can_delete(as_user(world, O_ID), block)
    assert not model.can_delete(as_user(world, V_ID), block)
    assert not model.can_delete(as_user(world, M_ID), block)
    assert not model.can_update(as_user(world, O_ID), block, block)  # D6


# -------------------------------------------------------------------------- storage


def obj(bucket: str, owner: uuid.UUID, name: str = "f") -> StoredObject:
    return StoredObject(uid(f"{bucket}/{owner}/{name}"), bucket, f"{owner}/{name}", owner)  # type: ignore[arg-type]


def test_avatars() -> None:
    world = tiny_world(PRIVATE, blocks=(Block(O_ID, V_ID),))
    avatar = world.add(obj("avatars", O_ID))
    model = AccessModel(world)
    assert model.can_read(ANON, avatar)
    assert model.can_read(as_user(world, V_ID), avatar)  # "read by everyone"
    assert model.can_insert(as_user(world, O_ID), obj("avatars", O_ID, "g"))
    assert not model.can_insert(as_user(world, V_ID), obj("avatars", O_ID, "g"))
    assert not model.can_insert(as_user(world, O_ID), obj("avatars", O_ID))  # name taken
    moved = dataclasses.replace(avatar, name=f"{V_ID}/f")
    assert not model.can_update(as_user(world, O_ID), avatar, moved)
    assert model.can_update(
        as_user(world, O_ID), avatar, dataclasses.replace(avatar, name=f"{O_ID}/g")
    )
    assert model.can_delete(as_user(world, O_ID), avatar)
    assert not model.can_delete(as_user(world, M_ID), avatar)
    assert model.can_delete(SERVICE, avatar)


@pytest.mark.parametrize(
    ("privacy", "anon", "stranger"),
    [(PUBLIC, True, True), (COMMUNITY, False, True), (PRIVATE, False, False)],
)
def test_video_objects_follow_content_rules(privacy: Privacy, anon: bool, stranger: bool) -> None:
    world = tiny_world(privacy, follows=(Follow(X_ID, O_ID, ACCEPTED),))
    clip = world.add(obj("videos", O_ID))
    model = AccessModel(world)
    assert model.can_read(ANON, clip) is anon
    assert model.can_read(as_user(world, V_ID), clip) is stranger
    assert model.can_read(as_user(world, X_ID), clip)  # follower
    assert model.can_read(as_user(world, M_ID), clip)
    assert model.can_delete(as_user(world, M_ID), clip)
    assert model.can_delete(as_user(world, O_ID), clip)
    assert not model.can_delete(as_user(world, X_ID), clip)
    assert not model.can_update(
        as_user(world, M_ID), clip, dataclasses.replace(clip, name=f"{O_ID}/g")
    )


def test_video_object_blocked_and_foreign_folders() -> None:
    world = tiny_world(PUBLIC, blocks=(Block(V_ID, O_ID),))
    clip = world.add(obj("videos", O_ID))
    stray = world.add(StoredObject(uid("stray"), "videos", "shared/x.mp4", None))
    model = AccessModel(world)
    assert not model.can_read(as_user(world, V_ID), clip)
    assert not model.can_read(as_user(world, M_ID), stray)
    assert model.can_read(SERVICE, stray)
    assert not model.can_insert(
        as_user(world, M_ID), StoredObject(uid("s2"), "videos", "shared/y", None)
    )
    assert model.can_insert(SERVICE, StoredObject(uid("s2"), "videos", "shared/y", None))


# --------------------------------------------------------------------- matrix world


def test_matrix_world_shape() -> None:
    matrix = build_matrix_world()
    model = AccessModel(matrix.world)
    for privacy in Privacy:
        owner = matrix.owners[privacy].id
        expected = {
            "self": Relation.SELF,
            "anon": Relation.ANON,
            "service": Relation.SERVICE,
            "follower": Relation.FOLLOWER,
            "requested": Relation.REQUESTED,
            "stranger": Relation.STRANGER,
            "blocked": Relation.BLOCKED,
            "blocker": Relation.BLOCKED,
            "moderator": Relation.MODERATOR,
            "moderator+blocked": Relation.MODERATOR,
            "moderator+blocker": Relation.MODERATOR,
            "moderator+follower": Relation.MODERATOR,
        }
        for actor in ACTORS:
            assert model.relation(matrix.viewer(actor, privacy), owner) is expected[actor]
        # the moderators' relations beside their role
        assert Block(owner, matrix.users["moderator+blocked"].id) in matrix.world.blocks
        assert Block(matrix.users["moderator+blocker"].id, owner) in matrix.world.blocks
        assert model.follow_status(matrix.users["moderator+follower"].id, owner) is (
            FollowStatus.ACCEPTED
        )
        assert matrix.hidden_posts[privacy].hidden and not matrix.posts[privacy].hidden
        assert matrix.clips[privacy].name == f"{owner}/clip.mp4"
    assert build_matrix_world().posts[PUBLIC].id == matrix.posts[PUBLIC].id  # stable ids
    with pytest.raises(ValueError, match="unknown matrix actor"):
        matrix.viewer("nobody", PUBLIC)


# ---------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_service_sees_everything(world: World) -> None:
    seen = AccessModel(world).visible(SERVICE)
    for entity in world.entities():
        if isinstance(entity, User) and not entity.has_profile:
            continue
        assert key_of(entity) in seen[table_of(entity)]


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_anon_never_sees_private_or_hidden_content(world: World) -> None:
    model = AccessModel(world)
    seen = model.visible(ANON)
    assert not seen["blocks"]
    for post in world.posts.values():
        if post.hidden or world.users[post.author].privacy is not PUBLIC:
            assert post.id not in seen["posts"]


@settings(max_examples=60, deadline=None)
@given(worlds(min_users=2))
def test_blocked_sees_nothing_of_blockers_content(world: World) -> None:
    model = AccessModel(world)
    for viewer in all_viewers(world):
        if viewer.user_id is None or viewer.moderator:
            continue
        seen = model.visible(viewer)
        for block in world.blocks:
            if viewer.user_id not in (block.blocker, block.blocked):
                continue
            other = block.blocked if viewer.user_id == block.blocker else block.blocker
            assert other not in seen["profiles"]
            assert not any(world.posts[p].author == other for p in seen["posts"])
            assert not any(world.videos[v].owner == other for v in seen["videos"])
            assert not any(world.comments[c].author == other for c in seen["comments"])


@settings(max_examples=40, deadline=None)
@given(worlds())
def test_visible_has_every_table_and_anon_writes_nothing(world: World) -> None:
    model = AccessModel(world)
    assert set(model.visible(ANON)) == set(TABLES)
    for entity in world.entities():
        assert not model.can_delete(ANON, entity)


@settings(max_examples=80, deadline=None)
@given(worlds(allow_no_profile=True))
def test_generated_worlds_are_consistent(world: World) -> None:
    blocked = {(b.blocker, b.blocked) for b in world.blocks}
    acting = {u.id for u in world.users.values() if u.has_profile}
    assert all(a != b and {a, b} <= acting for a, b in blocked)
    for f in world.follows:
        assert f.follower != f.followee and {f.follower, f.followee} <= acting
        assert (f.follower, f.followee) not in blocked and (f.followee, f.follower) not in blocked
    assert len({(f.follower, f.followee) for f in world.follows}) == len(world.follows)
    assert len({(like.user, like.parent) for like in world.likes.values()}) == len(world.likes)
    assert len({(o.bucket, o.name) for o in world.objects.values()}) == len(world.objects)
    for reaction in [*world.comments.values(), *world.likes.values()]:
        world.parent_owner(reaction.parent)  # the parent exists
    assert {o.folder for o in world.objects.values()} <= {str(u) for u in acting}
