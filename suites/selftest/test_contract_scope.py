"""The contract suite's own resources, in-process against the Storage API and GoTrue protocol
doubles: the run's bucket or user exists inside the block and is pinned in the write scope, is
gone after it, and the shared world listed before and after is the same; a user of the shared
world changed, removed or added meanwhile is named by its id; an unknown service is one line."""

from __future__ import annotations

import pytest

from soberharness.checker.contract import world_changes
from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.runner.contract_scope import own_resources
from soberharness.runner.rest_matrix import RestKeys
from soberharness.targets.base import Target
from soberharness.testing.gotrue_protocol_double import GoTrueProtocolDouble
from soberharness.testing.loopback import serve
from soberharness.testing.storage_protocol_double import PREFIX, StorageApiDouble


def _buckets(dsn: str) -> set[str]:
    with db_session.connect(dsn, autocommit=True) as conn:
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
        assert set(own.world_before) == world
    assert _buckets(scratch_database) == world
    assert own.world_after == own.world_before and own.left == []


def test_a_service_without_own_resources_is_one_line() -> None:
    with pytest.raises(HarnessError, match="rest: the contract suite has no own resources"), \
            own_resources("rest", "http://127.0.0.1:9", {}, "x"):
        pass


SHARED = [{"id": "00000000-0000-4000-8000-000000000001", "email": "one@example.invalid",
           "user_metadata": {"name": "one"}},
          {"id": "00000000-0000-4000-8000-000000000002", "email": "two@example.invalid"}]


def _service_headers(target: Target) -> dict[str, str]:
    key = RestKeys.minted(target.keys.jwt_secret or "").service_key
    return {"apikey": key, "authorization": f"Bearer {key}"}


def test_the_runs_user_is_made_pinned_and_removed(target: Target) -> None:
    with GoTrueProtocolDouble(users=SHARED) as double:
        with own_resources("auth", double.url, _service_headers(target), "scope2") as own:
            made = double.admin.users[own.own]
            assert made["email"] == "contract-scope2@example.invalid"
            assert dict(own.scope.path) == {"userId": own.own, "user_id": own.own}
            assert set(own.world_before) == {u["id"] for u in SHARED}
        assert set(double.admin.users) == {u["id"] for u in SHARED}
    assert world_changes(own.world_before, own.world_after) == [] and own.left == []


def test_a_change_to_another_user_is_named_by_its_id(target: Target) -> None:
    with GoTrueProtocolDouble(users=SHARED) as double, \
            own_resources("auth", double.url, _service_headers(target), "scope3") as own:
        status, _ = double.admin.update(SHARED[1]["id"], b'{"user_metadata": {"x": 1}}')
        assert status == 200
    assert world_changes(own.world_before, own.world_after) == [f"changed ['{SHARED[1]['id']}']"]


def test_a_user_left_behind_is_reported(target: Target) -> None:
    with GoTrueProtocolDouble(users=SHARED) as double, \
            own_resources("auth", double.url, _service_headers(target), "scope4") as own:
        double.admin.delete(SHARED[0]["id"], b"")
        double.admin.create(b'{"email": "stray@example.invalid"}')
    changes = world_changes(own.world_before, own.world_after)
    assert changes[0] == f"gone ['{SHARED[0]['id']}']" and changes[1].startswith("new ['")
