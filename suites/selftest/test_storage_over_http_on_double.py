"""The storage matrix over HTTP, run against `StorageApiDouble` (soberharness/testing), which
answers the Storage API's routes and runs their SQL as the caller in a scratch copy of the
stack's database, so the stack's real storage policies decide. Not the Storage API: this tests
the harness's HTTP forms, runners and judge, so that every storage matrix case has an HTTP form
(or a declared reason for none) and a leak is named as exactly its cells.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from soberharness.access.planted import video_read_leak
from soberharness.checker.matrix import ExpectationCache
from soberharness.clients.storage import StorageClient, StorageError
from soberharness.db import session as db_session
from soberharness.db.claims import sign
from soberharness.db.seed import write_world
from soberharness.records.results import Cell, Op
from soberharness.runner.storage_matrix import StorageRun, run_storage_matrix
from soberharness.testing.storage_protocol_double import EMPTY_FOR_ANY_ROLE, StorageApiDouble
from soberharness.workload import matrix_cases, storage_forms
from soberharness.workload.bucket_admin import admin_calls, unrefused, visible_to_everyone
from soberharness.workload.matrix_cases import Action, Case
from soberharness.workload.storage_actions import Callers, Keys, ObjectState, content_of
from soberharness.workload.storage_forms import (
    CROSS_BUCKET,
    FEATURES,
    FORMS,
    HTTP_ONLY,
    StorageCell,
    storage_cells,
    unaccounted,
    unoffered,
)
from soberharness.world.entities import Privacy, Role, Viewer
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world

BASE = "http://storage.double/storage/v1"
SECRET = "storage-double-jwt-secret-of-32-chars"
ANON_KEY = sign({"role": "anon", "iss": "double"}, SECRET)
SERVICE_KEY = sign({"role": "service_role", "iss": "double"}, SECRET)
LEAK = "create policy leak on storage.objects for select to authenticated using " \
       "(bucket_id = 'videos')"

pytestmark = pytest.mark.needs("postgres")


@dataclasses.dataclass
class OnDouble:
    mw: MatrixWorld
    double: StorageApiDouble
    callers: Callers
    state: ObjectState
    dsn: str

    def run(self, cells: list[StorageCell]) -> StorageRun:
        return run_storage_matrix(self.mw, self.callers, self.state, cells)


def _on_double(dsn: str, tag: str = "dbl", **double_options: object) -> Iterator[OnDouble]:
    mw = build_matrix_world(tag)
    rows = mw.world.copy()
    rows.objects.clear()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, rows)
    with StorageApiDouble(dsn, SECRET, **double_options) as double:  # type: ignore[arg-type]
        api = StorageClient(BASE, ANON_KEY, transport=double.transport())
        callers = Callers(api, Keys(ANON_KEY, SERVICE_KEY, SECRET))
        state = ObjectState(callers.service)
        state.seed(mw.world)
        try:
            yield OnDouble(mw, double, callers, state, dsn)
        finally:
            callers.close()


@pytest.fixture
def on_double(scratch_database: str) -> Iterator[OnDouble]:
    yield from _on_double(scratch_database)


def _label(r: object) -> str:
    return r.cell.label()  # type: ignore[attr-defined, no-any-return]


def test_every_storage_case_has_an_http_form_or_a_declared_reason() -> None:
    assert unaccounted() == []
    assert storage_forms.stale_declarations() == []


def test_a_new_case_without_a_form_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    planted = Case("objects:videos", Op.UPDATE, "planted case with no HTTP form",
                   lambda c: Action(Op.UPDATE, c.mw.clips[c.privacy], c.mw.clips[c.privacy]))
    cases = [*matrix_cases.CASES, planted]
    assert unaccounted(cases) == ["objects:videos update planted case with no HTTP form"]
    monkeypatch.setattr(matrix_cases, "CASES", cases)
    with pytest.raises(LookupError, match="objects:videos update planted case with no HTTP form"):
        list(storage_cells(build_matrix_world("dbl")))


def test_the_whole_storage_matrix_over_http_matches_the_model(on_double: OnDouble) -> None:
    cells = list(storage_cells(on_double.mw))
    run = on_double.run(cells)
    # 1584 + the object-name shapes with an HTTP form (6 per bucket, 12 actors, one privacy
    # level; the two dot-segment shapes have none): 1728
    assert len(run.results) == len(cells) == 1728
    assert not run.mismatches, "\n".join(f"{_label(r)}: {r.detail}" for r in run.mismatches)
    # every form was sent, and each allowed and refused somewhere
    calls = {sc.call for sc in cells}
    assert calls == {f.call for f in FORMS.values()} | {e.form.call for e in HTTP_ONLY}
    for call in calls:
        outcomes = {r.actual for sc, r in zip(cells, run.results, strict=True) if sc.call == call}
        assert outcomes == {True, False}, call
    # the runners left the world's objects as they found them
    for obj in on_double.mw.world.objects.values():
        assert on_double.state.content(obj.bucket, obj.name) == content_of(obj.bucket, obj.name)


def _predicted(mw: MatrixWorld, cells: list[StorageCell], roles: tuple[Role, ...]) -> set[Cell]:
    """The cells the true model and the model with the leak rule disagree on."""
    true, leaky = ExpectationCache(mw.world), ExpectationCache(mw.world, video_read_leak(*roles))
    return {sc.cell for sc in cells
            if all(true.expected(sc.ctx, a) for a in sc.judged)
            != all(leaky.expected(sc.ctx, a) for a in sc.judged)}


def test_a_leaky_video_policy_is_named_as_exactly_its_cells(on_double: OnDouble) -> None:
    cells = [c for c in storage_cells(on_double.mw) if c.cell.table == "objects:videos"]
    predicted = _predicted(on_double.mw, cells, (Role.AUTHENTICATED,))
    with db_session.connect(on_double.dsn, autocommit=True) as conn:
        conn.execute(LEAK)
    run = on_double.run(cells)
    assert {r.cell for r in run.mismatches} == predicted
    # the leak shows through every read form and the copy, for signed-in actors only
    assert {c.case for c in predicted} == {
        "owner's object", "info of owner's object", "list owner's folder",
        "signed URL of owner's object", "render owner's object",
        "copy owner's object into actor's folder"}
    # By the rules: a public or community owner's videos are hidden from blocked users only
    # (both directions); a private owner's also from the stranger and the pending requester.
    # 8 (actor, privacy) pairs x 6 forms = 48 cells.
    assert {(c.actor, c.privacy) for c in predicted} == {
        ("blocked", "public"), ("blocker", "public"),
        ("blocked", "community"), ("blocker", "community"),
        ("blocked", "private"), ("blocker", "private"),
        ("stranger", "private"), ("requested", "private")}
    assert len(predicted) == 48


def test_cross_bucket_moves_are_probed_and_left_out_where_missing(
    scratch_database: str,
) -> None:
    from soberharness.workload.storage_actions import cross_bucket_moves

    for supported in (True, False):
        for on in _on_double(scratch_database, f"dbl{supported}", cross_bucket=supported):
            assert cross_bucket_moves(on.state) is supported
            left = {(b, n) for b, n in on.state.created if on.state.exists(b, n)}
            assert left == {(o.bucket, o.name) for o in on.mw.world.objects.values()}
    offered = frozenset(FEATURES) - {CROSS_BUCKET}
    assert unoffered(offered) == {FORMS[(Op.UPDATE, "move into videos, same name")].call:
                                  FEATURES[CROSS_BUCKET]}
    mw = build_matrix_world("dbl")
    names = {sc.cell.case for sc in storage_cells(mw, offered=offered)}
    assert "move into videos, same name" not in names
    assert "move to actor's folder" in names


def test_bucket_administration_refusals_name_call_caller_and_status(
    scratch_database: str,
) -> None:
    """A caller may not empty or delete a bucket even where it sees the bucket and its objects
    (the bucket of the test's own, made visible as the destructive suite test makes it)."""
    mw = build_matrix_world("dbl")
    user = Viewer.of(mw.owners[Privacy.PUBLIC])
    with db_session.connect(scratch_database, autocommit=True) as conn:
        for statement in visible_to_everyone("sober-own-x"):
            conn.execute(statement.encode())
    seen: dict[frozenset[str], list[str]] = {}
    for planted in (frozenset(), frozenset({EMPTY_FOR_ANY_ROLE})):
        with StorageApiDouble(scratch_database, SECRET, planted=planted) as double:
            api = StorageClient(BASE, ANON_KEY, transport=double.transport())
            callers = Callers(api, Keys(ANON_KEY, SERVICE_KEY, SECRET))
            callers.service.create_bucket("sober-own-x", public=False)
            callers.service.upload("sober-own-x", "u/kept.png", b"png", content_type="image/png")
            assert [e.name for e in api.list("sober-own-x", "u/")] == ["kept.png"]
            calls = admin_calls("sober-own-x", "sober-planted-x")
            seen[planted] = unrefused("anon", api, calls)
            seen[planted] += unrefused(f"user {user.user_id}", callers.of(user), calls)
            callers.service.remove_many("sober-own-x", ["u/kept.png"])
            callers.service.delete_bucket("sober-own-x")
            callers.close()
    assert seen[frozenset()] == []
    assert seen[frozenset({EMPTY_FOR_ANY_ROLE})] == [
        "POST /bucket/sober-own-x/empty by anon: answered 200 'Successfully emptied', "
        "must be refused",
        f"POST /bucket/sober-own-x/empty by user {user.user_id}: answered 200 "
        "'Successfully emptied', must be refused",
    ]


def test_list_v2_pages_and_folders_and_resumable_refusals(on_double: OnDouble) -> None:
    """Routes the storage suite uses beyond the matrix: the v2 listing (folders with
    with_delimiter, pages by cursor) and a TUS upload into another user's folder."""
    owner = on_double.mw.owners[Privacy.PUBLIC]
    client = on_double.callers.of(Viewer.of(owner))
    folder = f"{owner.id}/"
    for name in ("deep/one.png", "deep/two.png"):
        on_double.state.put("videos", folder + name, content_of("videos", folder + name))
    rolled = client.list_v2("videos", folder, with_delimiter=True)
    assert [f["name"] for f in rolled.folders] == [f"{folder}deep/"]
    assert [o["name"] for o in rolled.objects] == [f"{folder}clip.mp4"]
    first = client.list_v2("videos", folder, limit=2)
    assert [o["name"] for o in first.objects] == [f"{folder}clip.mp4", f"{folder}deep/one.png"]
    assert first.has_next and first.next_cursor
    rest = client.list_v2("videos", folder, limit=2, cursor=first.next_cursor)
    assert ([o["name"] for o in rest.objects], rest.has_next) == ([f"{folder}deep/two.png"], False)

    stranger = on_double.callers.of(on_double.mw.actors["stranger"])
    planted = f"{folder}planted.bin"
    with pytest.raises(StorageError) as refused:
        stranger.upload_resumable("videos", planted, b"x" * 10, chunk_size=4)
    assert (refused.value.status, refused.value.method) == (403, "POST"), refused.value
    location = client.create_resumable("videos", f"{folder}resumed.bin", 8)
    with pytest.raises(StorageError) as conflict:  # not where the upload is
        client.append_resumable(location, 4, b"late")
    assert conflict.value.status == 409
    assert not on_double.state.exists("videos", planted)
