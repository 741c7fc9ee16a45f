"""Non-interference through the Storage API's list endpoint (issue 20 item 1, "the storage
objects V may list", on a target with the Storage API).

The database snapshot already holds what a viewer may select of storage.objects; this is the
same property asked the way a client asks: for every upload the access model says a viewer
cannot observe (the object inserts of soberharness.workload.invisible_changes), each blind
viewer lists, through the Storage API with its own token, the bucket's top level and every
folder level of the new object's name, before and after the upload. The Storage API reads
committed rows, so the row is committed (by SQL, as the superuser: a listing needs no file) and
deleted again right after. Deletes and edits are left to the database snapshot (undoing them
would need the object's file back). Any entry that differs names the change, the viewer, the
listing and the entry's before and after.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence

import psycopg
from psycopg import sql

from soberharness.clients.postgrest_sql import storage_switch
from soberharness.clients.storage import StorageClient, StorageError
from soberharness.db import session as db_session
from soberharness.db import sql as rows
from soberharness.records.noninterference import Difference
from soberharness.workload.invisible_changes import InvisibleChange, matrix_viewers
from soberharness.world.entities import StoredObject, Viewer
from soberharness.world.matrix_world import MatrixWorld

ROW = "(entry)"
Listing = dict[str, str]  # entry name -> the entry as JSON text (an error: its status)


def prefixes(obj: StoredObject) -> list[str]:
    """The listings an object's name shows in: the top level and each folder level."""
    folders = obj.name.split("/")[:-1]
    return ["", *("/".join(folders[:i + 1]) + "/" for i in range(len(folders)))]


def listing(client: StorageClient, bucket: str, prefix: str) -> Listing:
    """The bucket's entries under `prefix` as the client's caller lists them."""
    try:
        entries = client.list(bucket, prefix, limit=1000)
    except StorageError as exc:
        return {"(error)": f"{exc.status} {exc.code}"}
    return {e.name: json.dumps({"id": e.id, "metadata": e.metadata}, sort_keys=True,
                               default=str) for e in entries}


def compare(change: str, viewer: str, where: str, before: Listing, after: Listing
            ) -> list[Difference]:
    """One difference per entry that appeared, disappeared or changed. Pure."""
    return [Difference(change, viewer, where, ROW, before.get(name), after.get(name), name)
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]


def _uploads(changes: Sequence[InvisibleChange]) -> list[tuple[InvisibleChange, StoredObject]]:
    """The changes that add one object and touch nothing else."""
    out = []
    for ic in changes:
        wc = ic.change
        if (len(wc.added) == 1 and isinstance(wc.added[0], StoredObject) and not wc.removed
                and wc.update is None):
            out.append((ic, wc.added[0]))
    return out


def _commit(conn: psycopg.Connection, statement: sql.Composable) -> None:
    with conn.transaction():
        conn.execute(storage_switch())
        conn.execute(statement)


@dataclasses.dataclass
class ListingRun:
    differences: list[Difference]
    uploads: int  # uploads tried
    listings: int  # listings compared
    seconds: float


def run_listing_noninterference(
    dsn: str,
    mw: MatrixWorld,
    client_of: dict[str, StorageClient],
    changes: Sequence[InvisibleChange],
) -> ListingRun:
    """Every upload of `changes` committed at `dsn` and removed again, each blind viewer's
    listings (through `client_of[label]`) compared around it."""
    started = time.perf_counter()
    out: list[Difference] = []
    listings = 0
    tried = _uploads(changes)
    with db_session.connect(dsn, autocommit=True) as conn:
        for ic, obj in tried:
            places = [(obj.bucket, p) for p in prefixes(obj)]
            blind = [label for label in ic.blind if label in client_of]
            before = {(v, place): listing(client_of[v], *place) for v in blind for place in places}
            _commit(conn, rows.insert(rows.row_of(obj)))
            try:
                after = {key: listing(client_of[key[0]], *key[1]) for key in before}
            finally:
                _commit(conn, rows.delete(rows.row_of(obj)))
            listings += len(before)
            for (viewer, (bucket, prefix)), was in before.items():
                out += compare(ic.change.change.label, viewer, f"storage list {bucket}/{prefix}",
                               was, after[(viewer, (bucket, prefix))])
    return ListingRun(out, len(tried), listings, time.perf_counter() - started)


def viewers_of(mw: MatrixWorld) -> dict[str, Viewer]:
    """The matrix viewers by label, whose clients the run lists with."""
    return matrix_viewers(mw)
