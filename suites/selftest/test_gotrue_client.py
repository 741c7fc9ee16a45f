"""The harness's GoTrue client against a protocol double (never the system under test).

`GoTrueProtocolDouble` answers a handful of routes the way GoTrue's sources say it does
(internal/api/*.go: routes, token response, the HTTPError / API-version / OAuthError error
bodies, the 303 of GET /verify with its fragment). It exists only to test the client's own
logic: URL building, the apikey/Authorization headers, error parsing, timeouts. What GoTrue
really does is asserted by suites/auth against a real GoTrue.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import httpx
import jwt
import pytest

from soberharness.clients.gotrue import GoTrueClient, GoTrueError, error_from_redirect, parse_error
from soberharness.clients.mailpit import verify_links
from soberharness.errors import HarnessError, TargetUnavailable
from soberharness.records.mail import Mail
from soberharness.workload.flow import Flow

SECRET = "protocol-double-secret-at-least-32-chars"
ANON = jwt.encode({"role": "anon"}, SECRET, algorithm="HS256")
SERVICE = jwt.encode({"role": "service_role"}, SECRET, algorithm="HS256")
USER = {"id": "7c4f0a4e-6d43-4b0a-9a4e-2f4a1b0c9d11", "email": "a@example.test",
        "aud": "authenticated", "role": "authenticated", "app_metadata": {"provider": "email"},
        "user_metadata": {}, "identities": [], "factors": []}


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


class GoTrueProtocolDouble:
    """A MockTransport handler speaking GoTrue's wire format for a few routes; records calls."""

    prefix = "/auth/v1"

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix(self.prefix)
        body = json.loads(request.content) if request.content else {}
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        match request.method, path:
            case "POST", "/signup":
                if len(body.get("password", "")) < 6:
                    return _json(422, {"code": 422, "error_code": "weak_password",
                                       "msg": "Password should be at least 6 characters.",
                                       "weak_password": {"reasons": ["length"]}})
                return _json(200, USER)
            case "POST", "/token":
                grant = request.url.params.get("grant_type")
                if grant == "password" and body.get("password") == "right-password":
                    return _json(200, {"access_token": "at", "token_type": "bearer",
                                       "expires_in": 3600, "expires_at": 1_900_000_000,
                                       "refresh_token": "rt1", "user": USER})
                if grant == "password":
                    return _json(400, {"code": 400, "error_code": "invalid_credentials",
                                       "msg": "Invalid login credentials"})
                return _json(400, {"error": "invalid_grant",
                                   "error_description": "Invalid Refresh Token: Already Used"})
            case "GET", "/verify":
                target = request.url.params.get("redirect_to", "http://site.test/")
                if request.url.params.get("token") == "good":
                    fragment = "access_token=at2&expires_in=3600&refresh_token=rt2&type=signup"
                else:
                    fragment = urllib.parse.urlencode({
                        "error": "access_denied", "error_code": "otp_expired",
                        "error_description": "Email link is invalid or has expired"})
                return httpx.Response(303, headers={"location": f"{target}#{fragment}"})
            case "POST", "/logout":
                return httpx.Response(204)
            case "GET", "/user":
                return _json(200, USER)
            case ("GET", "/admin/users") | ("DELETE", "/admin/users/x"):
                role = jwt.decode(bearer, SECRET, algorithms=["HS256"]).get("role")
                if role != "service_role":
                    return _json(403, {"code": "not_admin", "message": "User not allowed"})
                return _json(200, {"users": [USER], "aud": "authenticated"})
            case "GET", "/slow":
                raise httpx.ReadTimeout("timed out", request=request)
        return _json(404, {"code": 404, "error_code": "unknown", "msg": "no route"})


@pytest.fixture
def double() -> GoTrueProtocolDouble:
    return GoTrueProtocolDouble()


def client(double: GoTrueProtocolDouble, key: str = ANON) -> GoTrueClient:
    return GoTrueClient("http://gateway.test/auth/v1/", key, timeout=2.0,
                        transport=double.transport())


def test_paths_keep_the_base_prefix_and_every_call_sends_apikey_and_bearer(
    double: GoTrueProtocolDouble,
) -> None:
    with client(double) as c:
        c.signup("a@example.test", "long-enough")
        c.get_user("user-access-token")
    signup, get_user = double.requests
    assert signup.url.path == "/auth/v1/signup"
    assert signup.headers["apikey"] == ANON
    assert signup.headers["authorization"] == f"Bearer {ANON}"
    assert json.loads(signup.content) == {"email": "a@example.test", "password": "long-enough",
                                          "data": {}}
    assert get_user.headers["apikey"] == ANON
    assert get_user.headers["authorization"] == "Bearer user-access-token"


def test_password_grant_returns_a_typed_session(double: GoTrueProtocolDouble) -> None:
    with client(double) as c:
        session = c.sign_in_password("a@example.test", "right-password")
    request = double.requests[0]
    assert request.url.params["grant_type"] == "password"
    assert session.access_token == "at" and session.refresh_token == "rt1"
    assert session.expires_at == 1_900_000_000
    assert session.user is not None and session.user.id == USER["id"]


def test_each_error_shape_becomes_one_gotrue_error(double: GoTrueProtocolDouble) -> None:
    with client(double) as c:
        with pytest.raises(GoTrueError) as weak:
            c.signup("a@example.test", "123")
        with pytest.raises(GoTrueError) as bad_login:
            c.sign_in_password("a@example.test", "wrong")
        with pytest.raises(GoTrueError) as oauth:
            c.refresh("rotated")
        with pytest.raises(GoTrueError) as versioned:
            c.admin_list_users()
    assert (weak.value.status, weak.value.code, weak.value.reasons) == (
        422, "weak_password", ("length",))
    assert (bad_login.value.status, bad_login.value.code) == (400, "invalid_credentials")
    assert (oauth.value.status, oauth.value.code) == (400, "invalid_grant")
    assert "Already Used" in oauth.value.message
    assert (versioned.value.status, versioned.value.code) == (403, "not_admin")
    assert str(versioned.value) == "403 not_admin: User not allowed"


def test_non_json_error_bodies_are_still_parsed() -> None:
    error = parse_error(httpx.Response(502, text="<html>bad gateway</html>"))
    assert (error.status, error.code) == (502, "unknown")
    assert "bad gateway" in error.message


def test_admin_calls_carry_the_client_key_as_bearer(double: GoTrueProtocolDouble) -> None:
    with client(double, SERVICE) as admin:
        users = admin.admin_list_users(page=2, per_page=10)
        admin.admin_delete_user("x")
    listed, deleted = double.requests
    assert listed.headers["authorization"] == f"Bearer {SERVICE}"
    assert listed.url.params["page"] == "2" and listed.url.params["per_page"] == "10"
    assert json.loads(deleted.content) == {"should_soft_delete": False}
    assert [u.email for u in users] == ["a@example.test"]


def test_verify_reads_the_session_or_the_error_from_the_redirect_fragment(
    double: GoTrueProtocolDouble,
) -> None:
    with client(double) as c:
        redirect = c.verify("signup", "good", redirect_to="http://app.test/welcome")
        with pytest.raises(GoTrueError) as expired:
            c.verify("signup", "stale")
    assert redirect.location.startswith("http://app.test/welcome#")
    assert redirect.session is not None and redirect.session.refresh_token == "rt2"
    assert double.requests[0].url.params["redirect_to"] == "http://app.test/welcome"
    # The refusal's own status (access_denied is GoTrue's 403), not the redirect's 303.
    assert (expired.value.code, expired.value.status) == ("otp_expired", 403)
    assert expired.value.redirect_status == 303


@pytest.mark.parametrize(("params", "expected"), [
    ({"error": "invalid_request", "error_code": "validation_failed"}, (400, "validation_failed")),
    ({"error": "unauthorized_client", "error_code": "bad_jwt"}, (401, "bad_jwt")),
    ({"error": "server_error", "error_code": "unexpected_failure"}, (500, "unexpected_failure")),
    ({"error": "access_denied", "error_code": "401"}, (401, "access_denied")),  # older GoTrue
    ({"error": "access_denied"}, (403, "access_denied")),
])
def test_a_redirect_refusal_keeps_the_status_of_its_error(
        params: dict[str, str], expected: tuple[int, str]) -> None:
    error = error_from_redirect(params | {"error_description": "why"}, 303)
    assert error is not None
    assert (error.status, error.code, error.message) == (*expected, "why")
    assert error_from_redirect({"access_token": "t"}, 303) is None


def test_logout_sends_the_scope(double: GoTrueProtocolDouble) -> None:
    with client(double) as c:
        c.logout("tok", scope="others")
    assert double.requests[0].url.params["scope"] == "others"
    assert double.requests[0].headers["authorization"] == "Bearer tok"


def test_timeouts_and_refused_connections_are_one_line_harness_errors(
    double: GoTrueProtocolDouble,
) -> None:
    with client(double) as c, pytest.raises(TargetUnavailable) as slow:
        c.request("GET", "/slow")
    assert "GET /slow timed out" in str(slow.value) and "\n" not in str(slow.value)
    down = GoTrueClient("http://127.0.0.1:9", ANON, timeout=0.5)
    with down, pytest.raises(TargetUnavailable) as refused:
        down.health()
    assert "gotrue at http://127.0.0.1:9" in str(refused.value)


def test_flow_steps_name_the_flow_and_step_for_every_failure_kind() -> None:
    flow = Flow("signup")
    refused = r"^\[signup / weak password\] GoTrue refused: 422 weak_password"
    with pytest.raises(AssertionError, match=refused), flow.step("weak password"):
        raise GoTrueError(422, "weak_password", "too short")
    with pytest.raises(AssertionError, match=r"^\[signup / mail\] no mail"), flow.step("mail"):
        raise HarnessError("no mail arrived")
    with pytest.raises(AssertionError, match=r"^\[signup / row\] expected 1"), flow.step("row"):
        raise AssertionError("expected 1")


def test_verify_links_come_out_of_text_and_html_parts() -> None:
    link = ("http://127.0.0.1:9999/verify?token=abc123&type=signup"
            "&redirect_to=http%3A%2F%2Fapp.test%2F")
    mail = Mail(
        id="m1", subject="Confirm Your Signup", sender="noreply@sobertube.test",
        to=("a@example.test",), text=f"Follow this link: {link}\n",
        html=f'<a href="{link.replace("&", "&amp;")}">Confirm</a>'
             '<a href="http://site.test/help">help</a>',
    )
    links = verify_links(mail)
    assert [(x.token, x.type, x.redirect_to) for x in links] == [
        ("abc123", "signup", "http://app.test/")
    ]
