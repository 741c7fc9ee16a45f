"""A large object through a plain upload and through a resumable (TUS) upload in several
chunks, read back byte for byte. 8 MiB by default, 64 MiB with SOBERHARNESS_STORAGE_DEEP=1."""

from __future__ import annotations

import hashlib
import os

import pytest

from soberharness.workload.storage_target import StorageWorld, deep
from soberharness.world.entities import Privacy, Viewer

pytestmark = pytest.mark.needs("storage", "postgres")
SIZE = (64 if deep() else 8) * 1024 * 1024


def _payload(size: int) -> bytes:
    block = hashlib.sha256(b"large").digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


@pytest.mark.parametrize("how", ["upload", "resumable"])
def test_large_object_round_trips(how: str, storage_world: StorageWorld) -> None:
    owner = storage_world.mw.owners[Privacy.PUBLIC]
    client = storage_world.callers.of(Viewer.of(owner))
    name = f"{owner.id}/large-{how}.bin"
    storage_world.state.created.add(("videos", name))
    data = _payload(SIZE) + os.urandom(16)
    if how == "upload":
        client.upload("videos", name, data, content_type="video/mp4", timeout_s=120)
    else:
        location = client.upload_resumable("videos", name, data, content_type="video/mp4",
                                           chunk_size=SIZE // 3 + 1, timeout_s=120)
        assert client.resumable_offset(location) == len(data)
    back = client.download("videos", name, timeout_s=120).data
    assert hashlib.sha256(back).hexdigest() == hashlib.sha256(data).hexdigest()
    info = client.info("videos", name)
    assert int(info.get("size") or info.get("metadata", {}).get("size") or 0) == len(data)
    storage_world.state.drop("videos", name)
    assert not storage_world.state.exists("videos", name)
