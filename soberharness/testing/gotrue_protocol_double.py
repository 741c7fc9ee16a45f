"""`GoTrueProtocolDouble`: a test double of the few GoTrue routes the harness asks about a
deployment, served over HTTP on loopback.

Only for the harness's own tests of the code paths only remote targets reach (the settings
resolver asking `GET /settings`, a remote target's health check). Not GoTrue: it signs nobody
in. It answers as supabase/auth's internal/api does at v2.186.0 (the version the stack pins):

- `GET /health`: `{"version", "name", "description"}` (internal/api/api.go, HealthCheck);
- `GET /settings`: the `Settings` struct of internal/api/settings.go, `external` with one
  flag per provider, `disable_signup`, `mailer_autoconfirm`, `phone_autoconfirm`,
  `sms_provider`, `saml_enabled`; the values are the double's `settings`, GoTrue's defaults
  unless a test gives others;
- `GET /admin/audit?page&per_page` (for the contract suite's GoTrue path): `[]`; a page or
  per_page that is no unsigned integer is 400 `bad pagination`, and `per_page=0` is the 500
  real GoTrue answers (it divides by per_page; declared in stack/declarations.toml);
- the token routes the forged-metadata check walks (`add_user` makes a confirmed user first):
  `POST /token?grant_type=password` and `?grant_type=refresh_token`, answering a session whose
  access token carries GoTrue's claims (internal/tokens/service.go, AccessTokenClaims: `aud`,
  `exp`, `iat`, `sub`, `email`, `phone`, `app_metadata`, `user_metadata`, `role`, `aal`,
  `amr`, `session_id`, `is_anonymous`), passed through `access_token_hook` when a test sets
  one (GoTrue's custom access token hook: claims in, claims out); `PUT /user` with `data`
  merging into the user's `user_metadata` as GoTrue does;
- anything else: 404 with GoTrue's error body `{"code", "error_code", "msg"}`.

`with GoTrueProtocolDouble() as double:` serves on `double.url` (`http://127.0.0.1:N/auth/v1`,
the gateway's prefix) in a thread; `double.requests` lists (method, path, apikey) as asked.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt

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


class GoTrueProtocolDouble:
    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings if settings is not None else default_settings()
        self.requests: list[tuple[str, str, str]] = []
        self.jwt_secret = "gotrue-protocol-double-secret-of-32-chars"
        self.users: dict[str, dict[str, Any]] = {}  # by e-mail
        self.access_token_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self._refresh: dict[str, str] = {}  # refresh token -> e-mail
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def answer(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        route = path.split("?", 1)[0].removeprefix(PREFIX)
        if method == "GET" and route == "/health":
            return 200, {"version": "v2.186.0", "name": "GoTrue",
                         "description": "GoTrue is a user registration and authentication API"}
        if method == "GET" and route == "/settings":
            return 200, self.settings
        if method == "GET" and route == "/admin/audit":
            return _audit(parse_qs(path.split("?", 1)[1] if "?" in path else "",
                                  keep_blank_values=True))
        return 404, {"code": 404, "error_code": "not_found", "msg": "no route"}

    def add_user(self, email: str, password: str,
                 app_metadata: dict[str, Any] | None = None) -> str:
        """A confirmed e-mail user (as the admin API makes one); returns its id."""
        uid = str(uuid.uuid4())
        self.users[email] = {"id": uid, "password": password, "user_metadata": {},
                             "app_metadata": {"provider": "email", "providers": ["email"],
                                              **(app_metadata or {})}}
        return uid

    def answer_body(self, method: str, path: str, body: dict[str, Any],
                    bearer: str) -> tuple[int, dict[str, Any]]:
        """POST /token and PUT /user (see the module's docstring)."""
        route, _, query = path.partition("?")
        route = route.removeprefix(PREFIX)
        grant = parse_qs(query).get("grant_type", [""])[0]
        if method == "POST" and route == "/token" and grant == "password":
            user = self.users.get(str(body.get("email", "")))
            if user is None or user["password"] != body.get("password"):
                return 400, {"code": 400, "error_code": "invalid_credentials",
                             "msg": "Invalid login credentials"}
            return 200, self._session(str(body["email"]))
        if method == "POST" and route == "/token" and grant == "refresh_token":
            email = self._refresh.pop(str(body.get("refresh_token", "")), "")
            if not email:
                return 400, {"code": 400, "error_code": "refresh_token_not_found",
                             "msg": "Invalid Refresh Token: Refresh Token Not Found"}
            return 200, self._session(email)
        if method == "PUT" and route == "/user":
            email = self._email_of(bearer)
            if email is None:
                return 401, {"code": 401, "error_code": "bad_jwt", "msg": "invalid JWT"}
            user = self.users[email]
            user["user_metadata"] = {**user["user_metadata"], **(body.get("data") or {})}
            return 200, self._user_json(email)
        return 404, {"code": 404, "error_code": "not_found", "msg": "no route"}

    def _email_of(self, bearer: str) -> str | None:
        try:
            claims = jwt.decode(bearer, self.jwt_secret, algorithms=["HS256"],
                                audience="authenticated")
        except jwt.PyJWTError:
            return None
        return next((e for e, u in self.users.items() if u["id"] == claims.get("sub")), None)

    def _user_json(self, email: str) -> dict[str, Any]:
        user = self.users[email]
        return {"id": user["id"], "aud": "authenticated", "role": "authenticated",
                "email": email, "app_metadata": user["app_metadata"],
                "user_metadata": user["user_metadata"]}

    def _session(self, email: str) -> dict[str, Any]:
        user, now = self.users[email], int(time.time())
        claims: dict[str, Any] = {
            "aud": "authenticated", "exp": now + 3600, "iat": now, "sub": user["id"],
            "email": email, "phone": "", "app_metadata": user["app_metadata"],
            "user_metadata": user["user_metadata"], "role": "authenticated", "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}],
            "session_id": str(uuid.uuid4()), "is_anonymous": False}
        if self.access_token_hook is not None:
            claims = self.access_token_hook(json.loads(json.dumps(claims)))
        refresh = uuid.uuid4().hex
        self._refresh[refresh] = email
        return {"access_token": jwt.encode(claims, self.jwt_secret, algorithm="HS256"),
                "token_type": "bearer", "expires_in": 3600, "expires_at": now + 3600,
                "refresh_token": refresh, "user": self._user_json(email)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _with_body(self, method: str) -> None:
                double.requests.append((method, self.path, self.headers.get("apikey", "")))
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
                status, body = double.answer_body(method, self.path, json.loads(raw), bearer)
                self._send(status, body)

            def do_POST(self) -> None:
                self._with_body("POST")

            def do_PUT(self) -> None:
                self._with_body("PUT")

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                double.requests.append(("GET", self.path, self.headers.get("apikey", "")))
                status, body = double.answer("GET", self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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
