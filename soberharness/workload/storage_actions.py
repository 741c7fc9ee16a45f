"""What the matrix's actors do to storage through the Storage API itself.

The same actors, world and object cases as the SQL matrix (`workload.matrix_cases`), plus what
only HTTP has (replace by x-upsert, bulk delete, listing, signed URLs, object info). Each
attempt is judged by the STATE it leaves, read back as service_role, not by its status code: a
refused bulk delete answers 200 [] and a refused private read answers 404.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator

from soberharness.clients.storage import StorageClient, StorageError
from soberharness.db.claims import token_for
from soberharness.records.results import Cell, Op
from soberharness.workload.matrix_cases import Action, Ctx, cells
from soberharness.world.entities import Privacy, Role, StoredObject, Viewer, World
from soberharness.world.matrix_world import ACTORS, MatrixWorld

# Status codes (the body's statusCode) that mean "refused or not visible to you".
REFUSALS = frozenset({400, 401, 403, 404, 409, 413, 415})


def content_of(bucket: str, name: str, version: str = "v1") -> bytes:
    """The bytes the harness stores under a name: distinct per object and version."""
    seed = hashlib.sha256(f"{bucket}/{name}/{version}".encode()).digest()
    return seed * 32  # 1 KiB


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
        self.service.upload(bucket, name, data, upsert=True)
        self.created.add((bucket, name))

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


def _read(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
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


def _info(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    try:
        info = client.info(obj.bucket, obj.name)
    except StorageError as exc:
        if not _refused(exc):
            raise
        return Attempt(False, f"{exc.status_code} {exc.code}")
    return Attempt(info.get("name") == obj.name, f"200 name={info.get('name')!r}")


def _list(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    folder, _, file = obj.name.partition("/")
    names = {e.name for e in client.list(obj.bucket, f"{folder}/", limit=1000)}
    return Attempt(file in names, f"listed {sorted(names)}")


def _sign(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    try:
        signed = client.sign(obj.bucket, obj.name, 60)
    except StorageError as exc:
        if not _refused(exc):
            raise
        return Attempt(False, f"sign: {exc.status_code} {exc.code}")
    data = client.download_signed(signed.signed_url or "").data
    return Attempt(data == content_of(obj.bucket, obj.name), "signed, downloaded without a key")


def _insert(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    state.created.add((obj.bucket, obj.name))
    data = content_of(obj.bucket, obj.name)
    said = _call(lambda: client.upload(obj.bucket, obj.name, data))
    stored = state.content(obj.bucket, obj.name) == data
    if stored:
        state.drop(obj.bucket, obj.name)
    return Attempt(stored, _said(said, stored, "stored"))


def _replace(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    data = content_of(obj.bucket, obj.name, "v2")
    said = _call(lambda: client.upload(obj.bucket, obj.name, data, upsert=True))
    replaced = state.content(obj.bucket, obj.name) == data
    state.restore(obj)
    return Attempt(replaced, _said(said, replaced, "replaced"))


def _move(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    before, after = _obj(action.target), _obj(action.after)
    state.created.add((after.bucket, after.name))
    said = _call(lambda: client.move(before.bucket, before.name, after.name))
    moved = state.exists(after.bucket, after.name)
    source_left = state.exists(before.bucket, before.name)
    if moved:
        if source_left:
            state.drop(after.bucket, after.name)
        else:
            state.service.move(after.bucket, after.name, before.name)
    state.restore(before)
    detail = _said(said, moved, "moved")
    if moved and source_left:
        detail += "; the source is still there too"
    return Attempt(moved, detail, consistent=not (moved and source_left))


def _delete(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
    obj = _obj(action.target)
    said = _call(lambda: client.remove(obj.bucket, obj.name))
    gone = not state.exists(obj.bucket, obj.name)
    state.restore(obj)
    return Attempt(gone, _said(said, gone, "deleted"))


def _delete_many(client: StorageClient, state: ObjectState, action: Action) -> Attempt:
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


# What each matrix case name means over HTTP, and the HTTP-only cases added per bucket.
MATRIX_RUNNERS: dict[tuple[Op, str], Runner] = {
    (Op.SELECT, "owner's object"): _read,
    (Op.INSERT, "into owner's folder"): _insert,
    (Op.UPDATE, "rename within owner's folder"): _move,
    (Op.UPDATE, "move to actor's folder"): _move,
    (Op.DELETE, "owner's object"): _delete,
}
HTTP_ONLY: list[tuple[Op, str, Runner]] = [
    (Op.SELECT, "info of owner's object", _info),
    (Op.SELECT, "list owner's folder", _list),
    (Op.SELECT, "signed URL of owner's object", _sign),
    (Op.UPDATE, "replace owner's object (x-upsert)", _replace),
    (Op.DELETE, "bulk delete owner's object", _delete_many),
]


@dataclasses.dataclass(frozen=True)
class StorageCell:
    cell: Cell
    ctx: Ctx
    action: Action
    run: Runner


def storage_cells(mw: MatrixWorld, privacies: tuple[Privacy, ...] = tuple(Privacy),
                  actors: tuple[str, ...] = ACTORS) -> Iterator[StorageCell]:
    """Every storage cell: the matrix's object cases, then the HTTP-only ones on the same
    objects, per actor and owner privacy."""
    for cell, ctx, case in cells(mw):
        if not cell.table.startswith("objects:"):
            continue
        if ctx.privacy not in privacies or ctx.actor not in actors:
            continue
        action = case.build(ctx)
        runner = MATRIX_RUNNERS.get((case.op, case.name))
        if runner is None:
            raise LookupError(f"no HTTP form for matrix case {cell.table} {case.op} {case.name}")
        yield StorageCell(cell, ctx, action, runner)
        if case.op is Op.SELECT:
            for op, name, extra in HTTP_ONLY:
                target_action = Action(op, action.target, action.target)
                yield StorageCell(dataclasses.replace(cell, op=op, case=name), ctx,
                                  target_action, extra)
