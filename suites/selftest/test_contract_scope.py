"""The contract suite's own resources, in-process against the Storage API protocol double: the
run's bucket exists inside the block and is pinned in the write scope, is gone after it, and
the shared world listed before and after is the same; an unknown service is one line."""

from __future__ import annotations

import psycopg
import pytest

from soberharness.errors import HarnessError
from soberharness.runner.contract_scope import own_resources
from soberharness.runner.rest_matrix import RestKeys
from soberharness.targets.base import Target
from soberharness.testing.loopback import serve
from soberharness.testing.storage_protocol_double import PREFIX, StorageApiDouble


def _buckets(dsn: str) -> set[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {r[0] for r in conn.execute("select id from storage.buckets").fetchall()}


@pytest.mark.needs("postgres")
def test_the_runs_bucket_is_made_pinned_and_removed(target: Target,
                                                    scratch_database: str) -> None:
    secret = target.keys.jwt_secret or ""
    key = RestKeys.minted(secret).service_key
    headers = {"apikey": key, "authorization": f"Bearer {key}"}
    world = _buckets(scratch_database)
    with StorageApiDouble(scratch_database, secret) as double, \
            serve(double.transport()) as origin, \
            own_resources("storage", origin + PREFIX, headers, "scope1") as own:
        assert own.own == "contract-scope1"
        assert _buckets(scratch_database) == world | {"contract-scope1"}
        assert dict(own.scope.path) == {"bucketId": "contract-scope1",
                                        "bucketName": "contract-scope1"}
        assert own.world_before == frozenset(world)
    assert _buckets(scratch_database) == world
    assert own.world_after == own.world_before and own.left == []


def test_a_service_without_own_resources_is_one_line() -> None:
    with pytest.raises(HarnessError, match="rest: the contract suite has no own resources"), \
            own_resources("rest", "http://127.0.0.1:9", {}, "x"):
        pass
