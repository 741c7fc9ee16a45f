"""The access model's answers for the combinations the rules leave to docs/access-decisions.md
(16-23): moderators in blocks and follows, deletion requests, buckets, object moves."""

from __future__ import annotations

import dataclasses

from soberharness.access.model import AccessModel, bucket_problems
from soberharness.world.entities import (
    Block,
    Bucket,
    Comment,
    DeletionRequest,
    Follow,
    FollowStatus,
    Like,
    Privacy,
    Viewer,
)
from soberharness.world.matrix_world import build_matrix_world

MW = build_matrix_world()
MODEL = AccessModel(MW.world)
P = Privacy.PRIVATE
OWNER = MW.owners[P]
POST = MW.posts[P]
MB = MW.viewer("moderator+blocked", P)
MX = MW.viewer("moderator+blocker", P)
MF = MW.viewer("moderator+follower", P)


def test_moderators_in_a_block_still_moderate() -> None:
    """Decision 17: reading, hiding and deleting are untouched by a block either way."""
    for mod in (MB, MX):
        assert MODEL.can_read(mod, OWNER)
        assert MODEL.can_read(mod, MW.hidden_posts[P])
        assert MODEL.can_update(mod, POST, dataclasses.replace(POST, hidden=True))
        assert MODEL.can_delete(mod, MW.videos[P])
        assert MODEL.can_delete(mod, MW.clips[P])
        assert MODEL.can_delete(mod, MW.follower_comments[P])


def test_moderators_in_a_block_do_not_socialise_across_it() -> None:
    for mod in (MB, MX):
        assert mod.user_id is not None
        assert not MODEL.can_insert(mod, Comment(MW.id("c"), mod.user_id, POST.ref))
        assert not MODEL.can_insert(mod, Like(MW.id("l"), mod.user_id, MW.videos[P].ref))
    assert MB.user_id is not None
    # the right initial status for a private owner, refused for the block alone
    assert not MODEL.can_insert(MB, Follow(MB.user_id, OWNER.id, FollowStatus.PENDING))
    assert MODEL.can_insert(MW.viewer("moderator", P),
                            Follow(MW.users["moderator"].id, OWNER.id, FollowStatus.PENDING))
    assert not MODEL.can_read(MB, Block(OWNER.id, MB.user_id)), "the block stays unseen"
    assert MX.user_id is not None
    assert MODEL.can_read(MX, Block(MX.user_id, OWNER.id))
    assert MODEL.can_delete(MX, Block(MX.user_id, OWNER.id))


def test_a_following_moderator_owns_their_follow_only() -> None:
    """Decision 18."""
    assert MF.user_id is not None
    mine = Follow(MF.user_id, OWNER.id)
    assert MODEL.can_read(MF, mine) and MODEL.can_delete(MF, mine)
    assert not MODEL.can_delete(MF, Follow(MW.users["follower"].id, OWNER.id))
    assert MODEL.can_insert(MF, Comment(MW.id("c2"), MF.user_id, POST.ref))


def test_deletion_requests_need_aal2_and_only_service_changes_them() -> None:
    """Decision 21."""
    stranger = MW.viewer("stranger", P)
    assert stranger.user_id is not None
    mine = DeletionRequest(stranger.user_id)
    assert not MODEL.can_insert(stranger, mine)
    assert MODEL.can_insert(dataclasses.replace(stranger, aal="aal2"), mine)
    assert not MODEL.can_insert(dataclasses.replace(stranger, aal="aal2"),
                                DeletionRequest(OWNER.id))
    owners = MW.deletion_requests[P]
    assert MODEL.can_read(MW.viewer("self", P), owners)
    assert not MODEL.can_read(MW.viewer("moderator", P), owners)
    for op_allowed in (MODEL.can_delete, MODEL.can_read):
        assert op_allowed(Viewer.service(), owners)
    assert not MODEL.can_delete(MW.viewer("self", P), owners)


def test_buckets_are_read_by_all_and_changed_by_service() -> None:
    """Decision 19."""
    videos = Bucket("videos")
    assert MODEL.can_read(Viewer.anon(), videos)
    assert not MODEL.can_update(MW.viewer("moderator", P), videos,
                                dataclasses.replace(videos, public=True))
    assert MODEL.can_update(Viewer.service(), videos, dataclasses.replace(videos, public=True))
    assert not MODEL.can_delete(Viewer.service(), videos), "it holds objects"
    assert not MODEL.can_insert(Viewer.service(), Bucket("avatars")), "it exists"


def test_bucket_settings() -> None:
    """Decisions 19, 20."""
    assert bucket_problems(Bucket("avatars", public=True)) == []
    assert bucket_problems(Bucket("videos", public=False, allowed_mime_types=("video/mp4",)),
                           global_size_limit=100) == []
    assert bucket_problems(Bucket("videos", public=True)) == [
        "bucket videos is public (its objects are read by rule): served without RLS"
    ]
    assert bucket_problems(Bucket("avatars", file_size_limit=0)) == [
        "bucket avatars has a file size limit of 0 bytes"
    ]


def test_moves_keep_the_bucket_and_the_movers_folder() -> None:
    """Decision 23: the owner renames within their folder; never out of it, never across."""
    me = MW.viewer("self", P)
    clip = MW.clips[P]
    assert MODEL.can_update(me, clip, dataclasses.replace(clip, name=f"{OWNER.id}/renamed.mp4"))
    for after in (
        dataclasses.replace(clip, bucket="avatars"),
        dataclasses.replace(clip, name=f"{MW.users['stranger'].id}/clip.mp4"),
        dataclasses.replace(clip, name="shared/clip.mp4"),
    ):
        assert not MODEL.can_update(me, clip, after)
    assert MODEL.can_update(Viewer.service(), clip, dataclasses.replace(clip, bucket="avatars"))
    own = MW.user_clips["follower"]
    assert not MODEL.can_update(MW.viewer("follower", P), own,
                                dataclasses.replace(own, name=f"{OWNER.id}/planted.mp4"))


def test_a_comment_from_before_a_block_is_out_of_reach_of_both() -> None:
    """Decision 24."""
    comment = MW.blocked_comments[Privacy.PUBLIC]
    for actor in ("self", "blocked"):
        viewer = MW.viewer(actor, Privacy.PUBLIC)
        assert not MODEL.can_read(viewer, comment)
        assert not MODEL.can_delete(viewer, comment)
    assert MODEL.can_read(MW.viewer("stranger", Privacy.PUBLIC), comment)
    assert MODEL.can_delete(MW.viewer("moderator+blocked", Privacy.PUBLIC), comment)
