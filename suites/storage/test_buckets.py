"""Public and private buckets, bucket administration, and the bucket size and MIME limits,
each judged by what is stored afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.clients.storage import StorageClient, StorageError
from soberharness.report.run_report import RunReport
from soberharness.workload.storage_actions import content_of
from soberharness.workload.storage_target import StorageWorld
from soberharness.world.entities import Privacy, Viewer

pytestmark = pytest.mark.needs("storage", "postgres")


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


def test_buckets_are_read_by_everyone_and_changed_by_service_only(
    storage_world: StorageWorld, anon_api: StorageClient, run_report: RunReport
) -> None:
    user = storage_world.callers.of(Viewer.of(storage_world.mw.owners[Privacy.PUBLIC]))
    for caller in (anon_api, user):
        assert {b.id for b in caller.list_buckets()} >= {"avatars", "videos"}
        assert caller.get_bucket("avatars").public is True
        name = f"sober-planted-{run_report.run_id}"
        with pytest.raises(StorageError):
            caller.create_bucket(name, public=True)
        with pytest.raises(StorageError):
            caller.update_bucket("videos", public=True)
        with pytest.raises(StorageError):
            caller.empty_bucket("videos")
        with pytest.raises(StorageError):
            caller.delete_bucket("avatars")
    seen = {b.id: b.public for b in storage_world.callers.service.list_buckets()}
    assert seen["avatars"] is True and seen["videos"] is False
    assert not any(b.startswith("sober-planted-") for b in seen)
    clip = storage_world.mw.clips[Privacy.PUBLIC]
    assert storage_world.state.exists(clip.bucket, clip.name)


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
