"""Fixtures of the storage suite: the target's Storage API as each matrix actor, and the
matrix world put there (rows by SQL, files through the API), removed again at the end.

Every test is marked needs("storage") (transforms also "image-transformation"); on a target
without a Storage API (local) they are skipped naming the service. The world needs the
target's database too ("postgres"): the bucket policies read the social graph.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.clients.storage import StorageClient
from soberharness.db import session as db_session
from soberharness.lints.storage_schema import describe
from soberharness.report.run_report import RunReport
from soberharness.targets.base import Target
from soberharness.workload.storage_target import StorageWorld, storage_client


@pytest.fixture(scope="session")
def storage_world(target: Target, run_report: RunReport,
                  storage_sample: int | None) -> Iterator[StorageWorld]:
    world = StorageWorld.put(target, run_report.run_id, storage_sample)
    with db_session.connect(world.dsn, autocommit=True) as conn:
        run_report.notes["storage schema"] = describe(conn).as_note()
    try:
        yield world
    finally:
        left = world.remove()
        if left:
            run_report.notes["storage world left behind"] = left
            pytest.fail(f"the storage world was not removed: {left}", pytrace=False)


@pytest.fixture(scope="session")
def service_api(storage_world: StorageWorld) -> StorageClient:
    return storage_world.callers.service


@pytest.fixture(scope="session")
def anon_api(target: Target) -> Iterator[StorageClient]:
    with storage_client(target) as client:
        yield client
