"""Copy and the v2 listing obey the read and write rules, judged by what is stored and listed."""

from __future__ import annotations

import pytest

from soberharness.clients.storage import StorageError
from soberharness.workload.storage_actions import content_of
from soberharness.workload.storage_target import StorageWorld
from soberharness.world.entities import Privacy, Viewer

pytestmark = pytest.mark.needs("storage", "postgres")


def test_copy_needs_read_on_the_source_and_write_on_the_destination(
    storage_world: StorageWorld,
) -> None:
    mw, state = storage_world.mw, storage_world.state
    clip = mw.clips[Privacy.PRIVATE]
    owner = storage_world.callers.of(Viewer.of(mw.owners[Privacy.PRIVATE]))
    own_copy = clip.name.replace("clip.mp4", "copy.mp4")
    state.created.add(("videos", own_copy))
    owner.copy("videos", clip.name, own_copy)
    assert state.content("videos", own_copy) == content_of("videos", clip.name)
    state.drop("videos", own_copy)

    stranger_viewer = mw.actors["stranger"]
    stranger = storage_world.callers.of(stranger_viewer)
    stolen = f"{stranger_viewer.user_id}/stolen.mp4"
    state.created.add(("videos", stolen))
    with pytest.raises(StorageError):  # cannot read the private owner's clip
        stranger.copy("videos", clip.name, stolen)
    assert not state.exists("videos", stolen)
    public_clip = mw.clips[Privacy.PUBLIC]
    planted = public_clip.name.replace("clip.mp4", "planted.mp4")
    state.created.add(("videos", planted))
    with pytest.raises(StorageError):  # may read it, may not write into its owner's folder
        stranger.copy("videos", public_clip.name, planted)
    assert not state.exists("videos", planted)


def test_list_v2_shows_only_what_the_caller_may_read(storage_world: StorageWorld) -> None:
    mw = storage_world.mw
    owner_user = mw.owners[Privacy.PRIVATE]
    prefix = f"{owner_user.id}/"
    owner = storage_world.callers.of(Viewer.of(owner_user))
    stranger = storage_world.callers.of(mw.actors["stranger"])
    follower = storage_world.callers.of(mw.actors["follower"])
    names = lambda client: {o.get("name") for o in client.list_v2("videos", prefix).objects}  # noqa: E731
    assert names(owner) == {f"{prefix}clip.mp4"} == names(follower)
    assert names(stranger) == set()
