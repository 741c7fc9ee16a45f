"""`GoTrueProtocolDouble`: a test double of the few GoTrue routes the harness asks about a
deployment, served over HTTP on loopback.

Only for the harness's own tests of the code paths only remote targets reach (the settings
resolver asking `GET /settings`, a remote target's health check, the contract suite's reads and
its destructive writes on a user of its own). Not GoTrue: it signs nobody in, checks no token's
signature, and keeps its users in memory. It answers as supabase/auth's internal/api does at
v2.186.0 (the version the stack pins):

- `GET /health`: `{"version", "name", "description"}` (internal/api/api.go, HealthCheck);
- `GET /settings`: the `Settings` struct of internal/api/settings.go, `external` with one
  flag per provider, `disable_signup`, `mailer_autoconfirm`, `phone_autoconfirm`,
  `sms_provider`, `saml_enabled`; the values are the double's `settings`, GoTrue's defaults
  unless a test gives others;
- `GET /admin/audit?page&per_page` (for the contract suite's GoTrue path): `[]`; a page or
  per_page that is no unsigned integer is 400 `bad pagination`, and `per_page=0` is the 500
  real GoTrue answers (it divides by per_page; declared in stack/declarations.toml);
- the admin user routes (`GET/POST /admin/users`, `GET/PUT/DELETE /admin/users/{user_id}`),
  in memory: soberharness/testing/gotrue_double_users.py; `users` seeds the double with
  pre-existing users (GoTrue's admin parameters: `id`, `email`, `user_metadata`, ...), `planted`
  names its planted defects;
- an `/admin/` route asked without an `authorization` header: 401 `no_authorization`;
- the token routes (`POST /token` password and refresh grants, `PUT /user`), in memory:
  soberharness/testing/gotrue_double_tokens.py; `double.tokens.add_user` makes a user who
  signs in, `double.tokens.access_token_hook` stands for GoTrue's custom access token hook;
- anything else: 404 with GoTrue's error body `{"code", "error_code", "msg"}`.

`with GoTrueProtocolDouble() as double:` serves on `double.url` (`http://127.0.0.1:N/auth/v1`,
the gateway's prefix) in a thread; `double.requests` lists (method, path, apikey) as asked;
`double.admin.users` holds the users by id.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from soberharness.testing.gotrue_double_tokens import TokenRoutes
from soberharness.testing.gotrue_double_users import AdminUsers, Answer, error

PREFIX = "/auth/v1"
PROVIDERS = ("anonymous_users", "apple", "azure", "bitbucket", "discord", "facebook",
             "snapchat", "figma", "fly", "github", "gitlab", "google", "keycloak", "kakao",
             "linkedin", "linkedin_oidc", "notion", "spotify", "slack", "slack_oidc", "workos",
             "twitch", "twitter", "email", "phone", "zoom")


def default_settings() -> dict[str, Any]:
    """GET /settings of a GoTrue configured with nothing but its defaults (e-mail is the one
    provider enabled by default: EmailProviderConfiguration.Enabled default:"true")."""
    return {"external": {name: name == "email" for name in PROVIDERS},
            "disable_signup": False, "mailer_autoconfirm": False, "phone_autoconfirm": False,
            "sms_provider": "", "saml_enabled": False}


def _audit(query: dict[str, list[str]]) -> tuple[int, Any]:
    values = {name: query.get(name, ["1" if name == "page" else "50"])[-1]
              for name in ("page", "per_page")}
    if not all(v.isdigit() and int(v) < 2**64 for v in values.values()):
        return 400, {"code": 400, "error_code": "validation_failed", "msg": "bad pagination"}
    if int(values["per_page"]) == 0:
        return 500, {"code": 500, "error_code": "unexpected_failure",
                     "msg": "Internal Server Error"}
    return 200, []


USER = "/admin/users/"


class GoTrueProtocolDouble:
    def __init__(self, settings: dict[str, Any] | None = None,
                 users: list[dict[str, Any]] | None = None,
                 planted: frozenset[str] = frozenset()) -> None:
        self.settings = settings if settings is not None else default_settings()
        self.admin = AdminUsers(users, planted)
        self.tokens = TokenRoutes()
        self.requests: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def answer(self, method: str, path: str, body: bytes = b"",
               authorized: bool = True, bearer: str = "") -> Answer:
        route = path.split("?", 1)[0].removeprefix(PREFIX)
        query = parse_qs(path.split("?", 1)[1] if "?" in path else "", keep_blank_values=True)
        if route.startswith("/admin/") and not authorized:
            return error(401, "no_authorization", "This endpoint requires a valid Bearer token")
        if route == "/admin/users" and method in ("GET", "POST"):
            return self.admin.listing(query) if method == "GET" else self.admin.create(body)
        if route.startswith(USER) and "/" not in route.removeprefix(USER):
            user_id = route.removeprefix(USER)
            if method == "GET":
                return self.admin.get(user_id)
            if method == "PUT":
                return self.admin.update(user_id, body)
            if method == "DELETE":
                return self.admin.delete(user_id, body)
        if method == "GET" and route == "/health":
            return 200, {"version": "v2.186.0", "name": "GoTrue",
                         "description": "GoTrue is a user registration and authentication API"}
        if method == "GET" and route == "/settings":
            return 200, self.settings
        if method == "GET" and route == "/admin/audit":
            return _audit(query)
        grant = query.get("grant_type", [""])[-1]
        token_answer = self.tokens.answer(method, route, grant, body, bearer)
        if token_answer is not None:
            return token_answer
        return error(404, "not_found", "no route")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                method = self.command
                double.requests.append((method, self.path, self.headers.get("apikey", "")))
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                with double.lock:
                    authorization = self.headers.get("authorization") or ""
                    status, body = double.answer(method, self.path, raw, bool(authorization),
                                                 authorization.removeprefix("Bearer "))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> GoTrueProtocolDouble:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
