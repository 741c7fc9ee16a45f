"""One module per service (soberharness.services): every service a suite can ask a target for
has exactly one, its compose services are in the stack's compose file, and the targets read
their paths from it."""

from __future__ import annotations

import ast
import time

from soberharness import paths, services
from soberharness.config.composecheck import load_compose
from soberharness.db.claims import sign
from soberharness.targets import containers, remote
from soberharness.targets.base import Service
from soberharness.testing.realtime_protocol_double import RealtimeProtocolDouble


def test_every_service_has_one_module() -> None:
    names = [f.name for f in services.ALL]
    assert len(names) == len(set(names))
    assert set(names) == {s.value for s in Service}


def test_compose_services_are_in_the_compose_file() -> None:
    declared = set(load_compose()["services"])
    wanted = {name for f in services.ALL for name in f.compose}
    assert wanted <= declared, f"not in the compose file: {sorted(wanted - declared)}"


def test_targets_read_paths_from_the_service_modules() -> None:
    assert containers.GATEWAY_PATHS[Service.STORAGE] == services.storage.FACTS.gateway_path
    assert remote.HEALTH_PATHS[Service.AUTH] == services.auth.FACTS.health_path == "/health"
    assert containers.SERVICE_CONTAINERS[Service.IMAGE_TRANSFORMATION] == (
        "storage", "imgproxy", "gateway")


def test_rest_factory_builds_a_client_for_the_caller() -> None:
    api = services.rest.client("http://127.0.0.1:1/rest/v1/", "anon-key", "user-jwt", 0.5)
    try:
        assert (api.url, api.apikey, api.token, api.timeout) == (
            "http://127.0.0.1:1/rest/v1", "anon-key", "user-jwt", 0.5)
        assert services.rest.client("http://x", "anon-key").token == "anon-key"
    finally:
        api.close()


def test_proxy_factory_builds_a_toxiproxy_client() -> None:
    api = services.proxy.client("http://127.0.0.1:1/")
    try:
        assert api.base_url == "http://127.0.0.1:1"
    finally:
        api.close()


def test_realtime_factory_opens_a_socket_that_joins() -> None:
    secret = "s" * 40
    anon = sign({"role": "anon", "exp": int(time.time()) + 60}, secret)
    with RealtimeProtocolDouble(secret) as double:
        client = services.realtime.sync_client(double.url, anon, heartbeat_interval_s=2.0)
        try:
            client.join("room", anon, timeout_s=10)
        finally:
            client.close()
        assert [topic for _, topic, _ in double.joined] == ["realtime:room"]


# Where the harness probes a service is said once, in its services/ module. A client's own
# route table (clients/) is the protocol it speaks, and the protocol doubles serve those routes.
_MAY_NAME_ROUTES = ("services", "clients", "testing")
HEALTH_PATHS = {f.health_path for f in services.ALL if f.health_path not in (None, "/")}


def _health_literals(source: str) -> list[str]:
    """String constants in `source` (f-string pieces included) that are a health path."""
    return [node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and node.value in HEALTH_PATHS]


def test_health_paths_are_said_only_in_the_service_modules() -> None:
    root = paths.REPO / "soberharness"
    offenders = {
        str(path.relative_to(paths.REPO)): hits
        for path in sorted(root.rglob("*.py"))
        if path.relative_to(root).parts[0] not in _MAY_NAME_ROUTES
        and (hits := _health_literals(path.read_text()))
    }
    assert not offenders


def test_a_planted_health_path_is_found() -> None:
    planted = 'ready = http_ready(f"{url}/health")\nSTATUS = "/status"\nother = "/healthy"\n'
    assert sorted(_health_literals(planted)) == ["/health", "/status"]
