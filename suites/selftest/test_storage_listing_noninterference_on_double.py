"""Non-interference through the Storage API's list endpoint, run against StorageApiDouble
(soberharness/testing: it answers the API's routes by running their SQL as the caller in a
scratch copy of the stack's database, so the stack's storage policies decide). Not the Storage
API: this exercises the harness's remote-only listing path (client, commit and undo, judge) in
CI. The clean stack shows no blind viewer a new object; a policy listing every clip to every
signed-in user is named by upload, viewer, listing and entry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.access.planted_values import CLIPS_LISTED_TO_ALL
from soberharness.clients.storage import StorageClient
from soberharness.db import session as db_session
from soberharness.db.claims import sign
from soberharness.db.seed import write_world
from soberharness.runner.storage_listing import (
    ListingRun,
    compare,
    prefixes,
    run_listing_noninterference,
    viewers_of,
)
from soberharness.testing.storage_protocol_double import StorageApiDouble
from soberharness.workload.invisible_changes import invisible_changes
from soberharness.workload.storage_actions import Callers, Keys, ObjectState
from soberharness.world.entities import Privacy, StoredObject
from soberharness.world.matrix_world import build_matrix_world

BASE = "http://storage.double/storage/v1"
SECRET = "storage-double-jwt-secret-of-32-chars"
ANON_KEY = sign({"role": "anon", "iss": "double"}, SECRET)
SERVICE_KEY = sign({"role": "service_role", "iss": "double"}, SECRET)


def _run(dsn: str, defect: str) -> Iterator[ListingRun]:
    mw = build_matrix_world("sln")
    rows = mw.world.copy()
    rows.objects.clear()
    with db_session.connect(dsn, autocommit=True) as conn:
        write_world(conn, rows)
        conn.execute(defect.encode())
    with StorageApiDouble(dsn, SECRET) as double:
        api = StorageClient(BASE, ANON_KEY, transport=double.transport())
        callers = Callers(api, Keys(ANON_KEY, SERVICE_KEY, SECRET))
        try:
            ObjectState(callers.service).seed(mw.world)
            clients = {label: callers.of(v) for label, v in viewers_of(mw).items()}
            yield run_listing_noninterference(dsn, mw, clients, invisible_changes(mw, {"objects"}))
        finally:
            callers.close()


@pytest.mark.needs("postgres")
def test_clean_stack_lists_no_blind_viewer_a_new_object(scratch_database: str) -> None:
    for run in _run(scratch_database, "select 1"):
        assert run.uploads > 0 and run.listings > run.uploads
        assert not run.differences, "\n".join(d.describe() for d in run.differences)


@pytest.mark.needs("postgres")
def test_clips_listed_to_every_user_are_named(scratch_database: str) -> None:
    """Every signed-in user lists every clip: a blind signed-in viewer finds the owner's new
    clip in the owner's folder (the top level already showed the folder); anon does not."""
    private = build_matrix_world("sln").owners[Privacy.PRIVATE].id
    for run in _run(scratch_database, CLIPS_LISTED_TO_ALL):
        assert {(d.column, d.row, d.before) for d in run.differences} == {
            ("(entry)", "sibling-clip.mp4", None)}, "one new entry, in a folder listing"
        assert all(d.change.startswith("insert objects (videos/sibling-clip.mp4 of ")
                   and d.relation.startswith("storage list videos/") and d.relation.count("/") == 2
                   for d in run.differences)
        assert ("insert objects (videos/sibling-clip.mp4 of O_private)", "stranger",
                f"storage list videos/{private}/") in {
            (d.change, d.viewer, d.relation) for d in run.differences}
        assert "anon" not in {d.viewer for d in run.differences}, "authenticated only"


def test_an_object_shows_at_the_top_and_at_each_folder_level() -> None:
    obj = StoredObject(build_matrix_world().owners.popitem()[1].id, "videos", "a/b/c.mp4", None)
    assert prefixes(obj) == ["", "a/", "a/b/"]
    diffs = compare("up", "anon", "storage list videos/a/", {"x": "1"}, {"x": "1", "c": "2"})
    assert [(d.row, d.before, d.after) for d in diffs] == [("c", None, "2")]
