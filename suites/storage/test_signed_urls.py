"""Signed URLs: served without a key or token, refused once expired, when the token is tampered
with or used for another object; signed uploads land exactly where they were signed for."""

from __future__ import annotations

import time

import pytest

from soberharness.clients.storage import StorageClient, StorageError
from soberharness.workload.storage_actions import content_of
from soberharness.workload.storage_target import StorageWorld
from soberharness.world.entities import Privacy, Viewer

pytestmark = pytest.mark.needs("storage", "postgres")


def _owner(world: StorageWorld) -> StorageClient:
    return world.callers.of(Viewer.of(world.mw.owners[Privacy.PRIVATE]))


def _refused(call) -> StorageError:  # type: ignore[no-untyped-def]
    with pytest.raises(StorageError) as caught:
        call()
    assert caught.value.status_code in (400, 401, 403, 404), caught.value
    return caught.value


def test_signed_url_serves_the_private_object_without_a_key(storage_world: StorageWorld,
                                                            anon_api: StorageClient) -> None:
    clip = storage_world.mw.clips[Privacy.PRIVATE]
    signed = _owner(storage_world).sign(clip.bucket, clip.name, 60)
    assert signed.token and clip.name.split("/")[0] in (signed.signed_url or "")
    assert anon_api.download_signed(signed.signed_url or "").data == content_of(
        clip.bucket, clip.name)
    # the same object without the signature is refused to anon
    _refused(lambda: anon_api.download(clip.bucket, clip.name))


def test_expired_signed_url_is_refused(storage_world: StorageWorld,
                                       anon_api: StorageClient) -> None:
    clip = storage_world.mw.clips[Privacy.PRIVATE]
    signed = _owner(storage_world).sign(clip.bucket, clip.name, 1)
    time.sleep(2.2)
    error = _refused(lambda: anon_api.download_signed(signed.signed_url or ""))
    assert error.code in ("InvalidJWT", "ExpiredToken"), error


def test_tampered_signed_url_is_refused(storage_world: StorageWorld,
                                        anon_api: StorageClient) -> None:
    clip = storage_world.mw.clips[Privacy.PRIVATE]
    signed = _owner(storage_world).sign(clip.bucket, clip.name, 60)
    url = signed.signed_url or ""
    signature = signed.token.rsplit(".", 1)[1]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _refused(lambda: anon_api.download_signed(url.replace(signature, flipped)))
    # a valid token presented for another object of the same bucket
    other = storage_world.mw.clips[Privacy.PUBLIC]
    _refused(lambda: anon_api.download_signed(url.replace(clip.name, other.name)))


def test_nobody_signs_what_they_may_not_read(storage_world: StorageWorld) -> None:
    clip = storage_world.mw.clips[Privacy.PRIVATE]
    stranger = storage_world.callers.of(storage_world.mw.actors["stranger"])
    _refused(lambda: stranger.sign(clip.bucket, clip.name, 60))
    signed = stranger.sign_many(clip.bucket, [clip.name], 60)
    assert [s.signed_url for s in signed] == [None] and signed[0].error


def test_sign_many_answers_per_path(storage_world: StorageWorld) -> None:
    clip = storage_world.mw.clips[Privacy.PRIVATE]
    missing = clip.name.replace("clip.mp4", "no-such-clip.mp4")
    signed = _owner(storage_world).sign_many(clip.bucket, [clip.name, missing], 60)
    assert [(s.path, bool(s.signed_url), bool(s.error)) for s in signed] == [
        (clip.name, True, False), (missing, False, True)]


def test_signed_upload_lands_where_it_was_signed(storage_world: StorageWorld,
                                                 anon_api: StorageClient) -> None:
    owner = storage_world.mw.owners[Privacy.PRIVATE]
    name = f"{owner.id}/signed-upload.bin"
    storage_world.state.created.add(("videos", name))
    signed = _owner(storage_world).create_signed_upload("videos", name)
    data = b"signed upload " * 64
    anon_api.upload_to_signed(signed, data)
    assert storage_world.state.content("videos", name) == data
    # the token is for that name only
    _refused(lambda: anon_api.upload_to_signed(signed.url.replace("signed-upload", "other"),
                                               data))
    assert not storage_world.state.exists("videos", f"{owner.id}/other.bin")
    storage_world.state.drop("videos", name)


def test_signed_upload_into_another_users_folder_is_refused(storage_world: StorageWorld) -> None:
    owner = storage_world.mw.owners[Privacy.PUBLIC]
    stranger = storage_world.callers.of(storage_world.mw.actors["stranger"])
    name = f"{owner.id}/planted.bin"
    _refused(lambda: stranger.create_signed_upload("videos", name))
    assert not storage_world.state.exists("videos", name)
