"""The gateway's rate limits (seed 2.3.5, 5.2.2) on a real nginx with the stack's template:
per client address and per API key, 429 past the limit, served again once the bucket refills.

The rendered copy scales the stack's rates down (50/s and 500/s with bursts of 100 and 1000
cannot be driven from two shared cores): per address 2/s burst 5, per key 4/s burst 10. The
zones, their keys, the statuses and the client address (X-Forwarded-For from the stack's own
proxies) are the stack's. Behind nginx, an upstream that answers 200 to everything."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tools
from soberharness.ops.gateway import (
    GATEWAY_TEMPLATE,
    Gateway,
    Limit,
    OkUpstream,
    limit_findings,
    limits,
)

# The stack's gateway file on an nginx of the test's own, not the selected target.
pytestmark = pytest.mark.target_independent

ENV = read_env_file(TEMPLATES["local"])
SCALED = {"sober_per_ip": Limit(2, 5), "sober_per_key": Limit(4, 10)}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    reason = tools.missing("nginx")
    if reason:
        pytest.skip(reason)
    with OkUpstream() as upstream, Gateway(tmp_path_factory.mktemp("gateway"), ENV,
                                           {"rest": upstream.address}, SCALED) as gw:
        yield gw


def send(gw: Gateway, count: int, key: str, addresses: list[str]) -> list[int]:
    """`count` requests back to back to a key-protected route, from the given client
    addresses in turn (X-Forwarded-For, as the stack's proxies set it)."""
    statuses = []
    with httpx.Client(base_url=gw.url, timeout=5.0) as client:
        for i in range(count):
            response = client.get("/rest/v1/posts", headers={
                "apikey": key, "X-Forwarded-For": addresses[i % len(addresses)]})
            statuses.append(response.status_code)
    return statuses


def test_the_stack_limits_per_address_and_per_key() -> None:
    """The zones the live tests scale are the stack's, applied to its API server."""
    text = GATEWAY_TEMPLATE.read_text()
    assert limits(text) == {"sober_per_ip": Limit(50, 100), "sober_per_key": Limit(500, 1000)}
    assert "limit_req_zone $binary_remote_addr zone=sober_per_ip" in text
    assert "limit_req_zone $sober_apikey zone=sober_per_key" in text
    assert "limit_req_status 429;" in text


def test_per_address_limit_then_served_again(gateway: Gateway) -> None:
    one = ["198.51.100.7"]
    statuses = send(gateway, 20, ENV["SERVICE_ROLE_KEY"], one)
    assert limit_findings("per address", statuses, 1 + SCALED["sober_per_ip"].burst) == []
    # The same key from another address is served: the limit was the address's.
    assert send(gateway, 1, ENV["SERVICE_ROLE_KEY"], ["198.51.100.8"]) == [200]
    time.sleep(1.0)  # two tokens back at 2/s
    assert send(gateway, 1, ENV["SERVICE_ROLE_KEY"], one) == [200]


def test_per_key_limit_then_served_again(gateway: Gateway) -> None:
    many = [f"203.0.113.{i}" for i in range(1, 41)]  # a fresh address each: only the key counts
    statuses = send(gateway, 40, ENV["ANON_KEY"], many)
    assert limit_findings("per key", statuses, 1 + SCALED["sober_per_key"].burst) == []
    # Another key from a fresh address is served: the limit was the key's.
    assert send(gateway, 1, ENV["SERVICE_ROLE_KEY"], ["203.0.113.200"]) == [200]
    time.sleep(0.6)  # two tokens back at 4/s
    assert send(gateway, 1, ENV["ANON_KEY"], ["203.0.113.201"]) == [200]


def test_the_limit_answers_429_not_the_default_503(gateway: Gateway) -> None:
    statuses = send(gateway, 12, ENV["SERVICE_ROLE_KEY"], ["198.51.100.99"])
    assert set(statuses) == {200, 429}
