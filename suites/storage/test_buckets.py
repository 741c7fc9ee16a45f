"""Public and private buckets, bucket administration, and the bucket size and MIME limits,
each judged by what is stored afterwards. Bucket administration (update, empty, delete) is tried
on a bucket of the test's own, never on the shared world's; a call not refused is named with
the call, the caller and the status it answered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.clients.storage import StorageClient, StorageError
from soberharness.db import session as db_session
from soberharness.report.run_report import RunReport
from soberharness.workload.bucket_admin import (
    admin_calls,
    deletable_by_owner,
    invisible_again,
    unrefused,
    visible_to_everyone,
)
from soberharness.workload.storage_actions import content_of
from soberharness.workload.storage_target import StorageWorld
from soberharness.world.entities import Privacy, Viewer

pytestmark = pytest.mark.needs("storage", "postgres")
OWN_OBJECT = "kept/object.png"


def test_avatars_are_public_and_videos_are_not(storage_world: StorageWorld,
                                               anon_api: StorageClient) -> None:
    for privacy in Privacy:
        avatar = storage_world.mw.avatars[privacy]
        assert anon_api.download_public(avatar.bucket, avatar.name).data == content_of(
            avatar.bucket, avatar.name)
        clip = storage_world.mw.clips[privacy]
        with pytest.raises(StorageError) as caught:
            anon_api.download_public(clip.bucket, clip.name)
        assert caught.value.status_code in (400, 404)


def test_a_private_read_answers_404_and_changes_nothing(storage_world: StorageWorld) -> None:
    clip = storage_world.mw.clips[Privacy.PRIVATE]
    stranger = storage_world.callers.of(storage_world.mw.actors["stranger"])
    with pytest.raises(StorageError) as caught:
        stranger.download(clip.bucket, clip.name)
    assert caught.value.status_code == 404  # not 403: the object's existence is not told
    assert storage_world.state.content(clip.bucket, clip.name) == content_of(clip.bucket,
                                                                              clip.name)


@pytest.fixture
def own_bucket(service_api: StorageClient, run_report: RunReport) -> Iterator[str]:
    """A private bucket of this test's own holding one object: what callers try to change,
    empty and delete (never the shared world's buckets)."""
    name = f"sober-own-{run_report.run_id}"
    service_api.create_bucket(name, public=False)
    try:
        service_api.upload(name, OWN_OBJECT, content_of(name, OWN_OBJECT),
                           content_type="image/png")
        yield name
    finally:
        _remove_bucket(service_api, name)


def _remove_bucket(service_api: StorageClient, name: str) -> None:
    if name not in {b.id for b in service_api.list_buckets()}:
        return
    service_api.remove_many(name, [OWN_OBJECT])
    service_api.delete_bucket(name)


def _bucket_admin_is_refused(world: StorageWorld, anon_api: StorageClient, bucket: str,
                             run_id: str) -> None:
    owner = world.mw.owners[Privacy.PUBLIC]
    planted = f"sober-planted-{run_id}"
    calls = admin_calls(bucket, planted)
    service = world.callers.service
    try:
        failures = unrefused("anon", anon_api, calls)
        failures += unrefused(f"user {owner.id} (authenticated)",
                              world.callers.of(Viewer.of(owner)), calls)
    finally:
        _remove_bucket(service, planted)
    assert not failures, "\n".join(failures)
    seen = {b.id: b.public for b in service.list_buckets()}
    assert seen.get(bucket) is False, f"bucket {bucket} is {seen.get(bucket)} afterwards"
    assert service.download(bucket, OWN_OBJECT).data == content_of(bucket, OWN_OBJECT)


def test_buckets_are_read_by_everyone_and_changed_by_service_only(
    storage_world: StorageWorld, anon_api: StorageClient, own_bucket: str, run_report: RunReport
) -> None:
    user = storage_world.callers.of(Viewer.of(storage_world.mw.owners[Privacy.PUBLIC]))
    for caller in (anon_api, user):
        assert {b.id for b in caller.list_buckets()} >= {"avatars", "videos"}
        assert caller.get_bucket("avatars").public is True
    _bucket_admin_is_refused(storage_world, anon_api, own_bucket, run_report.run_id)
    seen = {b.id: b.public for b in storage_world.callers.service.list_buckets()}
    assert seen["avatars"] is True and seen["videos"] is False


@pytest.mark.destructive
def test_a_bucket_callers_can_see_is_still_emptied_and_deleted_by_service_only(
    storage_world: StorageWorld, anon_api: StorageClient, own_bucket: str, run_report: RunReport
) -> None:
    """The bucket of the test's own, made visible to every caller with its objects (as avatars
    is): the Storage API's own guard must refuse, not RLS's invisibility (v1.44.2 let any
    signed-in user empty a bucket it could see). Changes the target's policies for a moment."""
    with db_session.connect(storage_world.dsn, autocommit=True) as conn:
        for statement in visible_to_everyone(own_bucket):
            conn.execute(statement.encode())
        try:
            _bucket_admin_is_refused(storage_world, anon_api, own_bucket, run_report.run_id)
        finally:
            for statement in invisible_again(own_bucket):
                conn.execute(statement.encode())


FIRST_OBJECT = "0-first/caller-owned.png"  # sorts before OWN_OBJECT


@pytest.mark.destructive
def test_a_user_who_may_delete_the_first_object_still_cannot_empty_the_bucket(
    storage_world: StorageWorld, own_bucket: str
) -> None:
    """The bucket's first object (by name) is the caller's own and theirs to delete; another
    object is not. Emptying must still be refused: v1.48.12 to v1.70.0 probed only the first
    object and then emptied everything, other users' files included."""
    owner = storage_world.mw.owners[Privacy.PUBLIC]
    service = storage_world.callers.service
    service.upload(own_bucket, FIRST_OBJECT, content_of(own_bucket, FIRST_OBJECT),
                   content_type="image/png")
    with db_session.connect(storage_world.dsn, autocommit=True) as conn:
        conn.execute("update storage.objects set owner = %s where bucket_id = %s and name = %s",
                     (owner.id, own_bucket, FIRST_OBJECT))
        for statement in visible_to_everyone(own_bucket) + deletable_by_owner(own_bucket):
            conn.execute(statement.encode())
        try:
            call = f"POST /bucket/{own_bucket}/empty"
            failures = unrefused(f"user {owner.id} (authenticated, owns {FIRST_OBJECT})",
                                 storage_world.callers.of(Viewer.of(owner)),
                                 [c for c in admin_calls(own_bucket, "unused")
                                  if c.call == call])
        finally:
            for statement in invisible_again(own_bucket):
                conn.execute(statement.encode())
            service.remove_many(own_bucket, [FIRST_OBJECT])
    assert not failures, "\n".join(failures)
    assert service.download(own_bucket, OWN_OBJECT).data == content_of(own_bucket, OWN_OBJECT)


@pytest.fixture
def limited_bucket(service_api: StorageClient, run_report: RunReport) -> Iterator[str]:
    name = f"sober-limits-{run_report.run_id}"
    service_api.create_bucket(name, public=False, file_size_limit=2048,
                              allowed_mime_types=["image/png", "text/*"])
    try:
        yield name
    finally:
        service_api.empty_bucket(name)
        service_api.delete_bucket(name)


def test_bucket_size_and_mime_limits(service_api: StorageClient, limited_bucket: str) -> None:
    bucket = service_api.get_bucket(limited_bucket)
    assert (bucket.file_size_limit, bucket.allowed_mime_types) == (2048, ("image/png", "text/*"))
    service_api.upload(limited_bucket, "ok.png", b"p" * 2048, content_type="image/png")
    service_api.upload(limited_bucket, "ok.txt", b"t" * 10, content_type="text/plain")
    with pytest.raises(StorageError) as too_big:
        service_api.upload(limited_bucket, "big.png", b"p" * 2049, content_type="image/png")
    assert too_big.value.status_code == 413
    with pytest.raises(StorageError) as wrong_type:
        service_api.upload(limited_bucket, "x.pdf", b"%PDF", content_type="application/pdf")
    assert wrong_type.value.status_code == 415
    names = {e.name for e in service_api.list(limited_bucket)}
    assert names == {"ok.png", "ok.txt"}
    service_api.update_bucket(limited_bucket, file_size_limit=4096)
    service_api.upload(limited_bucket, "big.png", b"p" * 2049, content_type="image/png")
    assert service_api.download(limited_bucket, "big.png").data == b"p" * 2049
