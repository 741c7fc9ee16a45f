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
- `POST /signup` (e-mail and password): a user for the admin and the token routes, confirmed
  and signed in (a session) when the double's settings say `mailer_autoconfirm`, else the user
  alone (a password sign-in is then 400 `email_not_confirmed` until an admin PUT confirms the
  e-mail); a taken e-mail is 422 `user_already_exists` with autoconfirm, else an obfuscated
  user; a password under 6 characters 422 `weak_password`;
- the audit trail: given `audit_dsn`, each audited action (sign-up, password sign-in, refresh,
  logout, admin create/update/delete) is written into that database's auth.audit_log_entries as
  GoTrue writes it: soberharness/testing/gotrue_double_audit.py (planted `REFRESH_NOT_AUDITED`);
- anything else: 404 with GoTrue's error body `{"code", "error_code", "msg"}`.

`with GoTrueProtocolDouble() as double:` serves on `double.url` (`http://127.0.0.1:N/auth/v1`,
the gateway's prefix) in a thread; `double.requests` lists (method, path, apikey) as asked;
`double.admin.users` holds the users by id.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt

from soberharness.testing.gotrue_double_audit import (
    AUDIT_PLANTED,
    Actor,
    AuditTrail,
    subject_traits,
)
from soberharness.testing.gotrue_double_tokens import TokenRoutes
from soberharness.testing.gotrue_double_users import PASSWORD_MIN, AdminUsers, Answer, error

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


def _body(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _role_of(bearer: str) -> str:
    """The role claim of the bearer (read, not verified: the double checks no signature)."""
    try:
        return str(jwt.decode(bearer, options={"verify_signature": False}).get("role") or "")
    except jwt.PyJWTError:
        return ""


class GoTrueProtocolDouble:
    def __init__(self, settings: dict[str, Any] | None = None,
                 users: list[dict[str, Any]] | None = None,
                 planted: frozenset[str] = frozenset(), audit_dsn: str | None = None) -> None:
        self.settings = settings if settings is not None else default_settings()
        self.admin = AdminUsers(users, planted - AUDIT_PLANTED)
        self.tokens = TokenRoutes()
        self.tokens.confirmed = self._confirmed
        self.audit = AuditTrail(audit_dsn, planted)
        self.requests: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def _confirmed(self, email: str) -> bool:
        user = self._admin_user_by_email(email)
        return user is None or user["email_confirmed_at"] is not None

    def _admin_user_by_email(self, email: str) -> dict[str, Any] | None:
        return next((u for u in self.admin.users.values() if u["email"] == email.lower()), None)

    def _signup(self, raw: bytes) -> Answer:
        data = _body(raw)
        email, password = str(data.get("email") or ""), str(data.get("password") or "")
        if not email or not password:
            return error(400, "validation_failed", "Signup requires a valid password")
        if len(password) < PASSWORD_MIN:
            return error(422, "weak_password",
                         f"Password should be at least {PASSWORD_MIN} characters.")
        autoconfirm = bool(self.settings.get("mailer_autoconfirm"))
        existing = self._admin_user_by_email(email)
        if existing is not None:
            self.audit.log(Actor.of_user(existing), "user_repeated_signup", {"provider": "email"})
            if autoconfirm:
                return error(422, "user_already_exists", "User already registered")
            return 200, {**existing, "id": str(uuid.uuid4()), "identities": []}
        status, user = self.admin.create(json.dumps({
            "email": email, "email_confirm": autoconfirm,
            "user_metadata": data.get("data") or {}}).encode())
        if status != 200:
            return status, user
        self.tokens.add_user(user["email"], password, user_id=user["id"])
        if not autoconfirm:
            self.audit.log(Actor.of_user(user), "user_confirmation_requested",
                           {"provider": "email"})
            return 200, user
        self.audit.log(Actor.of_user(user), "user_signedup", {"provider": "email"})
        self.audit.log(Actor.of_user(user), "login", {"provider": "email"})
        return self.tokens.answer("POST", "/token", "password", json.dumps(
            {"email": user["email"], "password": password}).encode(), "") or (500, {})

    def _audited(self, method: str, route: str, grant: str, bearer: str, answer: Answer,
                 before: dict[str, Any] | None) -> Answer:
        """Log what GoTrue logs for a route's answer (only successful calls are audited)."""
        status, data = answer
        if status >= 300:
            return answer
        key = Actor.of_key(_role_of(bearer))
        if route == "/token" and isinstance(data, dict) and "user" in data:
            actor = Actor.of_user(data["user"])
            if grant == "password":
                self.audit.log(actor, "login", {"provider": "email"})
            else:
                self.audit.log(actor, "token_refreshed")
                self.audit.log(actor, "token_revoked")
        elif route == "/logout":
            email = self.tokens.email_of(bearer) or ""
            self.audit.log(Actor.of_user(self.tokens.users[email] | {"email": email}), "logout")
        elif route == "/admin/users" and method == "POST":
            self.audit.log(key, "user_signedup", subject_traits(data))
        elif route.startswith(USER) and method in ("PUT", "DELETE"):
            user = data if method == "PUT" else before
            if isinstance(user, dict):
                self.audit.log(key, "user_modified" if method == "PUT" else "user_deleted",
                               subject_traits(user))
        return answer

    def answer(self, method: str, path: str, body: bytes = b"",
               authorized: bool = True, bearer: str = "") -> Answer:
        route = path.split("?", 1)[0].removeprefix(PREFIX)
        grant = parse_qs(path.split("?", 1)[1] if "?" in path else "").get(
            "grant_type", [""])[-1]
        if method == "POST" and route == "/signup":
            return self._signup(body)
        user_id = route.removeprefix(USER) if route.startswith(USER) else ""
        before = self.admin.users.get(user_id)  # what a DELETE logs about the user it removes
        answer = self._route(method, path, body, authorized, bearer)
        if method == "DELETE" and before is not None and answer[0] == 200:
            self.tokens.forget(user_id)
        return self._audited(method, route, grant, bearer, answer, before)

    def _route(self, method: str, path: str, body: bytes = b"",
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
                data = b"" if status == 204 else json.dumps(body).encode()
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
        self.audit.prepare()
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
