"""What the matrix's actors do to storage through the Storage API itself: one runner per HTTP
form (download, info, list, sign, render, upload, x-upsert, move, copy, delete one and many).

Which matrix case runs through which form is declared in `workload.storage_forms`. Each attempt is
judged by the STATE it leaves, read back as service_role, not by its status code: a refused bulk
delete answers 200 [] and a refused private read answers 404.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
import uuid
import zlib
from collections.abc import Callable

from soberharness.clients.storage import StorageClient, StorageError, Transform
from soberharness.db.claims import token_for
from soberharness.workload.matrix_cases import Action
from soberharness.world.entities import Role, StoredObject, Viewer, World

# Status codes (the body's statusCode) that mean "refused or not visible to you".
REFUSALS = frozenset({400, 401, 403, 404, 409, 413, 415})


PNG_SIDE = 16


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def content_of(bucket: str, name: str, version: str = "v1") -> bytes:
    """The bytes the harness stores under a name: a 16x16 RGB PNG whose pixels come from the
    bucket, name and version, so they differ per object and version and an image
    transformation (imgproxy behind /render/image) can render them."""
    seed = hashlib.sha256(f"{bucket}/{name}/{version}".encode()).digest()
    row_bytes = PNG_SIDE * 3
    pixels = (seed * (PNG_SIDE * row_bytes // len(seed) + 1))[:PNG_SIDE * row_bytes]
    raw = b"".join(b"\x00" + pixels[r * row_bytes:(r + 1) * row_bytes] for r in range(PNG_SIDE))
    header = struct.pack(">IIBBBBB", PNG_SIDE, PNG_SIDE, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b""))


@dataclasses.dataclass(frozen=True)
class Keys:
    anon_key: str
    service_key: str
    jwt_secret: str


class Callers:
    """A StorageClient per viewer: anon with the anon key, service with the service key, a
    signed-in user with an access token shaped like GoTrue's, signed with the target's secret."""

    def __init__(self, api: StorageClient, keys: Keys) -> None:
        self.api = api
        self.keys = keys
        self._by_viewer: dict[Viewer, StorageClient] = {}
        self.service = self.of(Viewer(Role.SERVICE))

    def of(self, viewer: Viewer) -> StorageClient:
        if viewer not in self._by_viewer:
            if viewer.role is Role.ANON:
                token = self.keys.anon_key
            elif viewer.role is Role.SERVICE:
                token = self.keys.service_key
            else:
                token = token_for(viewer, self.keys.jwt_secret)
            self._by_viewer[viewer] = self.api.as_token(token)
        return self._by_viewer[viewer]

    def close(self) -> None:
        for client in self._by_viewer.values():
            client.close()


class ObjectState:
    """The objects as service_role sees them, and putting the world's objects back."""

    def __init__(self, service: StorageClient) -> None:
        self.service = service
        self.created: set[tuple[str, str]] = set()

    def content(self, bucket: str, name: str) -> bytes | None:
        try:
            return self.service.download(bucket, name).data
        except StorageError as exc:
            if exc.status_code in (400, 404):
                return None
            raise

    def exists(self, bucket: str, name: str) -> bool:
        return self.content(bucket, name) is not None

    def put(self, bucket: str, name: str, data: bytes) -> None:
        self.created.add((bucket, name))
        self.service.upload(bucket, name, data, upsert=True, content_type="image/png")

    def restore(self, obj: StoredObject) -> None:
        if self.content(obj.bucket, obj.name) != content_of(obj.bucket, obj.name):
            self.put(obj.bucket, obj.name, content_of(obj.bucket, obj.name))

    def drop(self, bucket: str, name: str) -> None:
        if self.exists(bucket, name):
            self.service.remove(bucket, name)

    def seed(self, world: World) -> None:
        for obj in world.objects.values():
            self.put(obj.bucket, obj.name, content_of(obj.bucket, obj.name))

    def remove_all(self) -> list[str]:
        """Remove everything the harness stored; returns what is still there afterwards."""
        by_bucket: dict[str, list[str]] = {}
        for bucket, name in sorted(self.created):
            by_bucket.setdefault(bucket, []).append(name)
        for bucket, names in by_bucket.items():
            for start in range(0, len(names), 100):
                self.service.remove_many(bucket, names[start:start + 100])
        return [f"{b}/{n}" for b, n in sorted(self.created) if self.exists(b, n)]


@dataclasses.dataclass(frozen=True)
class Attempt:
    """What happened: did the state change as an allowed request would leave it, and how."""

    allowed: bool
    detail: str
    consistent: bool = True  # the answer says what the state shows


Runner = Callable[[StorageClient, ObjectState, Action], Attempt]


def _refused(exc: StorageError) -> bool:
    return exc.status_code in REFUSALS or exc.status in REFUSALS


def _call(fn: Callable[[], object]) -> str:
    """Run a request; '' when it succeeded, else 'status code: message' of a refusal."""
    try:
        fn()
    except StorageError as exc:
        if not _refused(exc):
            raise
        return f"{exc.status_code} {exc.code}: {exc.message}"
    return ""


def read_object(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    try:
        data = client.download(obj.bucket, obj.name).data
    except StorageError as exc:
        if not _refused(exc):
            raise
        return Attempt(False, f"{exc.status_code} {exc.code}")
    if data != content_of(obj.bucket, obj.name):
        return Attempt(False, "200 with other bytes than stored")
    return Attempt(True, "200, the stored bytes")


def object_info(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    try:
        info = client.info(obj.bucket, obj.name)
    except StorageError as exc:
        if not _refused(exc):
            raise
        return Attempt(False, f"{exc.status_code} {exc.code}")
    return Attempt(info.get("name") == obj.name, f"200 name={info.get('name')!r}")


def list_folder(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    folder, _, file = obj.name.partition("/")
    names = {e.name for e in client.list(obj.bucket, f"{folder}/", limit=1000)}
    return Attempt(file in names, f"listed {sorted(names)}")


def sign_object(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    try:
        signed = client.sign(obj.bucket, obj.name, 60)
    except StorageError as exc:
        if not _refused(exc):
            raise
        return Attempt(False, f"sign: {exc.status_code} {exc.code}")
    data = client.download_signed(signed.signed_url or "").data
    return Attempt(data == content_of(obj.bucket, obj.name), "signed, downloaded without a key")


def insert_object(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    state.created.add((obj.bucket, obj.name))
    data = content_of(obj.bucket, obj.name)
    said = _call(lambda: client.upload(obj.bucket, obj.name, data, content_type="image/png"))
    stored = state.content(obj.bucket, obj.name) == data
    if stored:
        state.drop(obj.bucket, obj.name)
    return Attempt(stored, _said(said, stored, "stored"))


def replace_object(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    data = content_of(obj.bucket, obj.name, "v2")
    said = _call(lambda: client.upload(obj.bucket, obj.name, data, upsert=True,
                                      content_type="image/png"))
    replaced = state.content(obj.bucket, obj.name) == data
    state.restore(obj)
    return Attempt(replaced, _said(said, replaced, "replaced"))


def move_object(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    """POST /object/move: within the bucket, or into another one (destinationBucket)."""
    before, after = _obj(action.target), _obj(action.after)
    into = after.bucket if after.bucket != before.bucket else None
    state.created.add((after.bucket, after.name))
    said = _call(lambda: client.move(before.bucket, before.name, after.name, into))
    moved = state.exists(after.bucket, after.name)
    source_left = state.exists(before.bucket, before.name)
    if moved:
        if source_left:
            state.drop(after.bucket, after.name)
        else:
            back = before.bucket if into else None
            state.service.move(after.bucket, after.name, before.name, back)
    state.restore(before)
    detail = _said(said, moved, "moved")
    if moved and source_left:
        detail += "; the source is still there too"
    return Attempt(moved, detail, consistent=not (moved and source_left))


def copy_object(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    """POST /object/copy of `target` to `after` (read on the source, insert on the copy)."""
    source, copy = _obj(action.target), _obj(action.after)
    state.created.add((copy.bucket, copy.name))
    into = copy.bucket if copy.bucket != source.bucket else None
    said = _call(lambda: client.copy(source.bucket, source.name, copy.name, into))
    copied = state.content(copy.bucket, copy.name) == content_of(source.bucket, source.name)
    state.drop(copy.bucket, copy.name)
    state.restore(source)
    return Attempt(copied, _said(said, copied, "copied"))


def render_object(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    """GET /render/image/authenticated: the same read rule as the download, through imgproxy."""
    obj = _obj(action.target)
    try:
        image = client.render(obj.bucket, obj.name, Transform(width=8, height=8, resize="cover"))
    except StorageError as exc:
        if not _refused(exc):
            raise
        return Attempt(False, f"{exc.status_code} {exc.code}")
    return Attempt(bool(image.data), f"200, {len(image.data)} bytes of {image.content_type}")


def cross_bucket_moves(state: ObjectState) -> bool:
    """Does this Storage API move objects between buckets? `destinationBucket` exists in the
    move route from v1.0.0 on (supabase/storage #444); older versions ignore it and answer as
    if they had moved within the bucket. Probed as service_role with a file of the harness's
    own, removed again whatever happens."""
    name = f"soberharness-probe-{uuid.uuid4().hex[:12]}/cross-bucket.png"
    data = content_of("avatars", name)
    state.put("avatars", name, data)
    state.created.add(("videos", name))
    try:
        _call(lambda: state.service.move("avatars", name, name, "videos"))
        return state.content("videos", name) == data
    finally:
        state.drop("avatars", name)
        state.drop("videos", name)


def delete_object(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    said = _call(lambda: client.remove(obj.bucket, obj.name))
    gone = not state.exists(obj.bucket, obj.name)
    state.restore(obj)
    return Attempt(gone, _said(said, gone, "deleted"))


def delete_many(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    answered: list[str] = []

    def call() -> None:
        answered.extend(str(r.get("name")) for r in client.remove_many(obj.bucket, [obj.name]))

    said = _call(call)
    gone = not state.exists(obj.bucket, obj.name)
    state.restore(obj)
    consistent = gone == (answered == [obj.name])
    detail = _said(said or f"200 {answered}", gone, "deleted")
    return Attempt(gone, detail + ("" if consistent else "; the answer says otherwise"),
                   consistent)


def _said(said: str, happened: bool, what: str) -> str:
    answer = said or "2xx"
    return f"{answer}; afterwards {'' if happened else 'not '}{what}"


def _obj(entity: object) -> StoredObject:
    assert isinstance(entity, StoredObject)
    return entity
