"""Image transformations (Storage's /render/image through imgproxy), judged by their pixels:
each answer is decoded with Pillow and its size and format checked. A transform obeys the same
access rules as the download."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import pytest
from PIL import Image

from soberharness.clients.storage import Download, StorageError, Transform
from soberharness.workload.storage_target import StorageWorld
from soberharness.world.entities import Privacy, Viewer

pytestmark = pytest.mark.needs("storage", "image-transformation", "postgres")
SOURCE_SIZE = (200, 100)


def _noise_png(size: tuple[int, int]) -> bytes:
    rng = random.Random(7)
    image = Image.new("RGB", size)
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                   for _ in range(size[0] * size[1])])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _decoded(answer: Download) -> Image.Image:
    image = Image.open(io.BytesIO(answer.data))
    image.load()
    return image


@pytest.fixture(scope="module")
def images(storage_world: StorageWorld) -> Iterator[dict[str, str]]:
    """A 200x100 PNG in the private owner's folder of each bucket."""
    owner = storage_world.mw.owners[Privacy.PRIVATE]
    data = _noise_png(SOURCE_SIZE)
    names = {b: f"{owner.id}/picture.png" for b in ("avatars", "videos")}
    for bucket, name in names.items():
        storage_world.state.put(bucket, name, data)
    yield names
    for bucket, name in names.items():
        storage_world.state.drop(bucket, name)


@pytest.mark.parametrize(
    ("transform", "size"),
    [
        (Transform(width=100, height=100, resize="cover"), (100, 100)),
        (Transform(width=100, height=100, resize="contain"), (100, 50)),
        (Transform(width=100, height=100, resize="fill"), (100, 100)),
        (Transform(width=50), (50, 25)),
        (Transform(height=20), (40, 20)),
    ],
    ids=["cover", "contain", "fill", "width-only", "height-only"],
)
def test_resize_gives_the_pixel_size(transform: Transform, size: tuple[int, int],
                                     storage_world: StorageWorld,
                                     images: dict[str, str]) -> None:
    owner = storage_world.callers.of(Viewer.of(storage_world.mw.owners[Privacy.PRIVATE]))
    image = _decoded(owner.render("videos", images["videos"],
                                  Transform(**{**transform.body(), "format": "origin"})))
    assert (image.size, image.format) == (size, "PNG")


def test_format_and_quality(storage_world: StorageWorld, images: dict[str, str]) -> None:
    owner = storage_world.callers.of(Viewer.of(storage_world.mw.owners[Privacy.PRIVATE]))
    low = owner.render("videos", images["videos"], Transform(width=100, format="webp",
                                                             quality=20))
    high = owner.render("videos", images["videos"], Transform(width=100, format="webp",
                                                              quality=95))
    assert (_decoded(low).format, _decoded(low).size) == ("WEBP", (100, 50))
    assert _decoded(high).format == "WEBP"
    assert len(low.data) < len(high.data)


def test_transform_obeys_the_read_rules(storage_world: StorageWorld, images: dict[str, str],
                                        anon_api) -> None:  # type: ignore[no-untyped-def]
    mw = storage_world.mw
    small = Transform(width=20, height=20, resize="cover", format="origin")
    follower = storage_world.callers.of(mw.actors["follower"])
    assert _decoded(follower.render("videos", images["videos"], small)).size == (20, 20)
    for actor in ("stranger", "blocked", "anon"):
        with pytest.raises(StorageError) as caught:
            storage_world.callers.of(mw.actors[actor]).render("videos", images["videos"], small)
        assert caught.value.status_code in (400, 403, 404), actor
    # public bucket: rendered for anyone without a key; private bucket: never publicly
    assert _decoded(anon_api.render("avatars", images["avatars"], small, public=True)).size == (
        20, 20)
    with pytest.raises(StorageError):
        anon_api.render("videos", images["videos"], small, public=True)


def test_signed_transform(storage_world: StorageWorld, images: dict[str, str],
                          anon_api) -> None:  # type: ignore[no-untyped-def]
    owner = storage_world.callers.of(Viewer.of(storage_world.mw.owners[Privacy.PRIVATE]))
    signed = owner.sign("videos", images["videos"], 60,
                        transform=Transform(width=64, height=64, resize="cover"))
    image = _decoded(anon_api.render_signed(signed.signed_url or ""))
    assert image.size == (64, 64)
