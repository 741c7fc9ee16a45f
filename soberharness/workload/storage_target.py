"""The Storage API of a target, and the matrix world put there: its users, follows, blocks and
content as rows (the policies read them), its objects as files uploaded through the API."""

from __future__ import annotations

import dataclasses
import os

from soberharness.clients.storage import StorageClient
from soberharness.db import session as db_session
from soberharness.db.seed import leftovers, remove_world, write_world
from soberharness.errors import HarnessError
from soberharness.services import storage
from soberharness.targets.base import Service, Target
from soberharness.workload.storage_actions import Callers, Keys, ObjectState, cross_bucket_moves
from soberharness.workload.storage_forms import (
    CROSS_BUCKET,
    IMAGE_TRANSFORMATION,
    storage_cells,
)
from soberharness.workload.storage_sample import CellSample, sample_cells
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world

DEEP_ENV = "SOBERHARNESS_STORAGE_DEEP"


def deep() -> bool:
    """A deeper storage run (larger uploads, more benchmark rounds): SOBERHARNESS_STORAGE_DEEP=1."""
    return os.environ.get(DEEP_ENV, "") not in ("", "0")


def storage_keys(target: Target) -> Keys:
    keys = target.keys
    missing = [n for n, v in (("anon key", keys.anon_key), ("service key", keys.service_key),
                              ("JWT secret", keys.jwt_secret)) if not v]
    if missing:
        raise HarnessError(f"target '{target.name}': the storage suite needs its "
                           f"{', '.join(missing)} (user tokens are signed with the JWT secret)")
    return Keys(str(keys.anon_key), str(keys.service_key), str(keys.jwt_secret))


def storage_client(target: Target, timeout_s: float = 15.0) -> StorageClient:
    keys = storage_keys(target)
    return storage.client(target.url(Service.STORAGE), keys.anon_key, timeout_s=timeout_s)


def offered_features(target: Target, state: ObjectState) -> frozenset[str]:
    """What of `storage_forms.FEATURES` the target's Storage API has: image transformation as
    the target declares it, cross-bucket moves as a probe finds them."""
    offered = {CROSS_BUCKET} if cross_bucket_moves(state) else set()
    if Service.IMAGE_TRANSFORMATION in target.services:
        offered.add(IMAGE_TRANSFORMATION)
    return frozenset(offered)


@dataclasses.dataclass
class StorageWorld:
    """The matrix world on the target, for the storage suite (its own run tag, so it never
    meets the security suite's matrix world on a shared database)."""

    mw: MatrixWorld
    callers: Callers
    state: ObjectState
    dsn: str
    offered: frozenset[str] = frozenset()  # the storage_forms features this Storage API has
    sample: int | None = None  # cells per bucket to run (workload.storage_sample); None: all

    def cells(self, bucket: str) -> CellSample:
        """The storage matrix cells of `bucket` this Storage API offers (sampled if asked)."""
        every = [c for c in storage_cells(self.mw, offered=self.offered)
                 if c.cell.table == f"objects:{bucket}"]
        return sample_cells(every, self.sample)

    @classmethod
    def put(cls, target: Target, run_id: str, sample: int | None = None) -> StorageWorld:
        mw = build_matrix_world(f"{run_id}st")
        callers = Callers(storage_client(target), storage_keys(target))
        dsn = target.admin_dsn()
        rows = mw.world.copy()
        rows.objects.clear()
        with db_session.connect(dsn, autocommit=True) as conn:
            if leftovers(conn, mw.world):
                remove_world(conn, mw.world)
            write_world(conn, rows)
        world = cls(mw, callers, ObjectState(callers.service), dsn, sample=sample)
        world.state.seed(mw.world)
        world.offered = offered_features(target, world.state)
        return world

    def remove(self) -> dict[str, object]:
        """Remove the files through the API and the rows by SQL; what is left behind."""
        left: dict[str, object] = {}
        files = self.state.remove_all()
        if files:
            left["files"] = files
        with db_session.connect(self.dsn, autocommit=True) as conn:
            remove_world(conn, self.mw.world)
            rows = leftovers(conn, self.mw.world)
        if rows:
            left["rows"] = rows
        self.callers.close()
        return left
