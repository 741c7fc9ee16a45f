"""The writes the Realtime checks make on the matrix world, and who listens.

Subscribers are the matrix's actors (anon, service, follower, requested, stranger, blocked,
blocker, moderator) and the three owners (`self:<privacy>`). Every plan writes through a
`FanoutLedger`, so each change carries the model's verdict for every subscriber.
"""

from __future__ import annotations

import dataclasses

from soberharness.access.model import initial_follow_status
from soberharness.records import realtime as rd
from soberharness.workload.realtime_fanout import FanoutLedger
from soberharness.world.entities import (
    Block,
    Comment,
    Follow,
    FollowStatus,
    Like,
    Post,
    Privacy,
    Video,
    Viewer,
)
from soberharness.world.matrix_world import SHARED_ACTORS, MatrixWorld


def matrix_subscribers(mw: MatrixWorld) -> dict[str, Viewer]:
    viewers = {actor: mw.viewer(actor, Privacy.PUBLIC) for actor in SHARED_ACTORS}
    return viewers | {f"self:{p.value}": mw.viewer("self", p) for p in Privacy}


def content_plan(ledger: FanoutLedger, mw: MatrixWorld) -> None:
    """For every owner privacy: a post (insert, edit, comment, like, hidden by a moderator,
    deleted), a video (insert, delete) and a follow by the stranger (insert, accepted when it
    started pending, deleted)."""
    follower = Viewer.of(mw.users["follower"])
    stranger = Viewer.of(mw.users["stranger"])
    moderator = Viewer.of(mw.users["moderator"])
    for p in Privacy:
        owner_user = mw.owners[p]
        owner = Viewer.of(owner_user)
        post = ledger.insert(owner, Post(mw.id(f"rt/post/{p}"), owner_user.id, f"rt {p}"))
        assert isinstance(post, Post)
        edited = ledger.update(owner, post, dataclasses.replace(post, body=f"rt {p} edited"))
        comment = ledger.insert(follower, Comment(mw.id(f"rt/comment/{p}"),
                                                  follower.user_id, post.ref, "rt comment"))
        like = ledger.insert(follower, Like(mw.id(f"rt/like/{p}"), follower.user_id, post.ref))
        video = ledger.insert(owner, Video(mw.id(f"rt/video/{p}"), owner_user.id, f"rt {p}"))
        follow = ledger.insert(stranger, Follow(stranger.user_id, owner_user.id,  # type: ignore[arg-type]
                                                initial_follow_status(p)))
        assert isinstance(follow, Follow)
        if follow.status is FollowStatus.PENDING:
            follow = ledger.update(owner, follow,  # type: ignore[assignment]
                                   dataclasses.replace(follow, status=FollowStatus.ACCEPTED))
        ledger.delete(follower, like)
        ledger.delete(follower, comment)
        assert isinstance(edited, Post)
        hidden = ledger.update(moderator, edited, dataclasses.replace(edited, hidden=True))
        ledger.delete(owner, hidden)
        ledger.delete(owner, video)
        ledger.delete(stranger, follow)


def block_plan(ledger: FanoutLedger, mw: MatrixWorld) -> None:
    """The public owner posts, blocks the follower (the stack drops their follow, which is not
    published), posts again: the follower gets the first post, not the second."""
    owner_user = mw.owners[Privacy.PUBLIC]
    owner = Viewer.of(owner_user)
    follower = mw.users["follower"]
    ledger.insert(owner, Post(mw.id("rt/block/before"), owner_user.id, "before the block"))
    ledger.insert(owner, Block(owner_user.id, follower.id))
    ledger.insert(owner, Post(mw.id("rt/block/after"), owner_user.id, "after the block"))


def filter_subscriptions(mw: MatrixWorld) -> dict[str, tuple[rd.Subscription, ...]]:
    """Filters Realtime evaluates: `eq` on the author, `in` on post ids."""
    public_owner = mw.owners[Privacy.PUBLIC].id
    wanted = ",".join(str(mw.id(f"rt/filter/{n}")) for n in (1, 3))
    return {
        "stranger": (rd.Subscription("posts", filter=f"author_id=eq.{public_owner}"),),
        "moderator": (rd.Subscription("posts", filter=f"id=in.({wanted})"),),
        "follower": (rd.Subscription("posts", event="INSERT"),),
    }


def filter_plan(ledger: FanoutLedger, mw: MatrixWorld) -> None:
    """Posts by the public and community owners; some edited, all deleted."""
    made = []
    for n, p in enumerate((Privacy.PUBLIC, Privacy.COMMUNITY, Privacy.PUBLIC, Privacy.COMMUNITY),
                          start=1):
        owner = Viewer.of(mw.owners[p])
        made.append((owner, ledger.insert(owner, Post(mw.id(f"rt/filter/{n}"),
                                                      mw.owners[p].id, f"filter {n}"))))
    for owner, post in made:
        assert isinstance(post, Post)
        ledger.update(owner, post, dataclasses.replace(post, body=post.body + " edited"))
    for owner, post in made:
        assert isinstance(post, Post)
        ledger.delete(owner, dataclasses.replace(post, body=post.body + " edited"))
