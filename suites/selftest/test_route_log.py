"""The route log the parity report compares: status codes and JSON shapes per route, ids folded.

`RouteProtocolDouble` is an httpx MockTransport standing in for an HTTP service, for the
harness's own client code only.
"""

from __future__ import annotations

import httpx

from soberharness.clients import route_log
from soberharness.clients.gotrue import GoTrueClient


def test_shapes_keep_keys_and_types_never_values() -> None:
    body = {"access_token": "eyJ.secret", "expires_in": 3600, "user": {"id": "u", "email": "e",
            "factors": [{"id": "f", "status": "verified"}]}, "weak_password": None, "ok": True}
    assert route_log.shape(body) == {
        "access_token": "string", "expires_in": "number", "ok": "boolean",
        "user": {"email": "string", "factors": [{"id": "string", "status": "string"}],
                 "id": "string"},
        "weak_password": "null"}
    assert "eyJ" not in str(route_log.shape(body))
    assert route_log.shape([1, "a"]) == ["number | string"]


def test_ids_in_paths_become_placeholders() -> None:
    key = route_log.route_key("get", "/auth/v1/admin/users/0b7e3c9e-8d57-4d7b-9f7e-2a1b3c4d5e6f")
    assert key == "GET /auth/v1/admin/users/{id}"
    assert route_log.route_key("DELETE", "/rest/v1/posts/42") == "DELETE /rest/v1/posts/{id}"
    assert route_log.route_key("GET", "/auth/v1/health") == "GET /auth/v1/health"


class RouteProtocolDouble:
    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/health"):
            return httpx.Response(200, json={"version": "v2.186.0", "name": "GoTrue"})
        return httpx.Response(404, json={"code": 404, "msg": "not found"})


def test_the_gotrue_client_records_every_route_it_calls() -> None:
    route_log.clear()
    double = RouteProtocolDouble()
    client = GoTrueClient("http://127.0.0.1:9/auth/v1", "anon",
                          transport=httpx.MockTransport(double.handle))
    try:
        assert client.health()["name"] == "GoTrue"
    finally:
        client.close()
    assert route_log.snapshot() == {"GET /auth/v1/health": {
        "statuses": [200], "shapes": {"200": {"name": "string", "version": "string"}}}}
    route_log.clear()
