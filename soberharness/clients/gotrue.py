"""A small typed client for GoTrue's (Supabase Auth) HTTP API, as the auth suite drives it.

Shapes follow GoTrue's sources (internal/api/*.go): token responses carry access_token,
token_type, expires_in, expires_at, refresh_token and user; errors come in three shapes,
all turned into one `GoTrueError(status, code, message)`:

  * HTTPError             {"code": 422, "error_code": "weak_password", "msg": "..."}
  * API version 2024-01-01 {"code": "weak_password", "message": "..."}
  * OAuthError            {"error": "invalid_grant", "error_description": "..."}

Every request sends `apikey: <key>` (what the gateway checks) and `Authorization: Bearer
<token>`, the token being a user's access token or, for admin calls and anonymous calls,
the key itself. A client built with the service key may call /admin; one built with the
anon key is refused there. Every call has a timeout; an unreachable GoTrue raises
TargetUnavailable (one line), never a traceback from httpx.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any, Literal

import httpx

from soberharness.clients import route_log
from soberharness.errors import TargetUnavailable

LogoutScope = Literal["global", "local", "others"]
VerifyType = Literal["signup", "recovery", "magiclink", "invite", "email_change", "email"]


class GoTrueError(Exception):
    """GoTrue refused a request: HTTP status, GoTrue's error code, its message.

    A refusal that came as a redirect (GET /verify, the OAuth callback) carries the status
    GoTrue's error had before it was turned into the redirect's `error` (see
    `STATUS_OF_OAUTH_ERROR`), and the redirect's own status in `redirect_status`."""

    def __init__(self, status: int, code: str, message: str, reasons: tuple[str, ...] = (),
                 redirect_status: int | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.reasons = reasons  # weak_password: why the password was refused
        self.redirect_status = redirect_status
        super().__init__(f"{status} {code}: {message}")


# GoTrue (internal/api/errors.go, oauthErrorMap) names an error's HTTP status in the `error`
# parameter of the redirect that reports it; this is the way back.
STATUS_OF_OAUTH_ERROR = {
    "invalid_request": 400,
    "unauthorized_client": 401,
    "access_denied": 403,
    "server_error": 500,
    "temporarily_unavailable": 503,
}


def error_from_redirect(params: dict[str, str], redirect_status: int) -> GoTrueError | None:
    """The refusal a redirect's fragment (or query) reports, or None when it reports none."""
    if "error" not in params and "error_code" not in params:
        return None
    raw_code = params.get("error_code", "")
    oauth_error = params.get("error", "")
    if raw_code.isdigit():  # older GoTrue: error_code is the HTTP status, the code in `error`
        status, code = int(raw_code), oauth_error or "unknown"
    else:
        status = STATUS_OF_OAUTH_ERROR.get(oauth_error, 400)
        code = raw_code or oauth_error or "unknown"
    return GoTrueError(status, code, params.get("error_description", ""),
                       redirect_status=redirect_status)


@dataclasses.dataclass(frozen=True)
class AuthUser:
    """The user object GoTrue returns (models.User as JSON), the fields the suite reads."""

    id: str
    email: str
    aud: str
    role: str
    email_confirmed_at: str | None
    banned_until: str | None
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    identities: tuple[dict[str, Any], ...]
    factors: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthUser:
        return cls(
            id=str(data.get("id", "")),
            email=str(data.get("email") or ""),
            aud=str(data.get("aud") or ""),
            role=str(data.get("role") or ""),
            email_confirmed_at=data.get("email_confirmed_at"),
            banned_until=data.get("banned_until"),
            app_metadata=dict(data.get("app_metadata") or {}),
            user_metadata=dict(data.get("user_metadata") or {}),
            identities=tuple(data.get("identities") or ()),
            factors=tuple(data.get("factors") or ()),
            raw=data,
        )


@dataclasses.dataclass(frozen=True)
class Session:
    """A token response (AccessTokenResponse): what a signed-in device holds."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    expires_at: int | None
    user: AuthUser | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        user = data.get("user")
        expires_at = data.get("expires_at")
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token") or ""),
            token_type=str(data.get("token_type") or ""),
            expires_in=int(data.get("expires_in") or 0),
            expires_at=int(expires_at) if expires_at is not None else None,
            user=AuthUser.from_json(user) if isinstance(user, dict) else None,
        )

    @classmethod
    def from_fragment(cls, params: dict[str, str]) -> Session:
        """The session GoTrue puts in the redirect's URL fragment after GET /verify."""
        return cls(
            access_token=params["access_token"],
            refresh_token=params.get("refresh_token", ""),
            token_type=params.get("token_type", ""),
            expires_in=int(params.get("expires_in") or 0),
            expires_at=int(params["expires_at"]) if params.get("expires_at") else None,
            user=None,
        )


@dataclasses.dataclass(frozen=True)
class SignupResult:
    """POST /signup answers a session when e-mail is autoconfirmed, else the user alone."""

    user: AuthUser
    session: Session | None


@dataclasses.dataclass(frozen=True)
class VerifyRedirect:
    """GET /verify answers 303 to redirect_to with the outcome in the URL fragment."""

    location: str
    params: dict[str, str]

    @property
    def session(self) -> Session | None:
        return Session.from_fragment(self.params) if "access_token" in self.params else None


@dataclasses.dataclass(frozen=True)
class TotpEnrollment:
    id: str
    type: str
    friendly_name: str
    secret: str
    uri: str


@dataclasses.dataclass(frozen=True)
class Challenge:
    id: str
    expires_at: int | None


def parse_error(response: httpx.Response) -> GoTrueError:
    """GoTrue's error body, whichever of its shapes, as a GoTrueError."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        return GoTrueError(status, "unknown", response.text.strip()[:200] or response.reason_phrase)
    if not isinstance(body, dict):
        return GoTrueError(status, "unknown", str(body)[:200])
    reasons = tuple((body.get("weak_password") or {}).get("reasons") or ())
    if "error" in body and "msg" not in body and "message" not in body:  # OAuthError
        return GoTrueError(status, str(body["error"]), str(body.get("error_description", "")))
    code = body.get("error_code")
    if not code and isinstance(body.get("code"), str):  # API version 2024-01-01
        code = body["code"]
    message = body.get("msg") or body.get("message") or body.get("error_description") or ""
    return GoTrueError(status, str(code or "unknown"), str(message), reasons)


def fragment_params(location: str) -> dict[str, str]:
    """Parameters of a redirect URL: its fragment, else its query (PKCE puts them there)."""
    parts = urllib.parse.urlsplit(location)
    raw = parts.fragment or parts.query
    return {k: v for k, v in urllib.parse.parse_qsl(raw, keep_blank_values=True)}


class GoTrueClient:
    """Talks to one GoTrue at `base_url` with one API key (anon or service).

    `headers` go with every request: a device's User-Agent (GoTrue records it per session),
    or the client address header GoTrue keys its rate limits by (GOTRUE_RATE_LIMIT_HEADER)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._transport = transport
        self._headers = dict(headers or {})
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"apikey": api_key, "accept": "application/json", **self._headers},
            event_hooks={"response": [route_log.hook]},
        )

    def with_headers(self, **headers: str) -> GoTrueClient:
        """Another client for the same GoTrue and key, sending these headers too (names with
        underscores become dashes: user_agent -> user-agent)."""
        extra = {name.replace("_", "-"): value for name, value in headers.items()}
        return GoTrueClient(self.base_url, self.api_key, self.timeout, self._transport,
                            {**self._headers, **extra})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GoTrueClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------ plumbing

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        expect_redirect: bool = False,
    ) -> httpx.Response:
        """One call; raises GoTrueError on a 4xx/5xx answer, TargetUnavailable when down."""
        headers = {"authorization": f"Bearer {token or self.api_key}"}
        try:
            response = self._http.request(method, path, headers=headers, json=json, params=params)
        except httpx.TimeoutException:
            raise TargetUnavailable(
                f"gotrue at {self.base_url}: {method} {path} timed out"
            ) from None
        except httpx.HTTPError as exc:
            raise TargetUnavailable(f"gotrue at {self.base_url}: {method} {path}: {exc}") from None
        if response.status_code >= 400:
            raise parse_error(response)
        if response.is_redirect and not expect_redirect:
            raise GoTrueError(response.status_code, "unexpected_redirect",
                              response.headers.get("location", ""))
        return response

    def _redirect(self, path: str, params: dict[str, str]) -> tuple[int, str]:
        """GET `path`, which must answer with a redirect: its status and location."""
        response = self.request("GET", path, params=params, expect_redirect=True)
        location = response.headers.get("location", "")
        if not response.is_redirect or not location:
            raise GoTrueError(response.status_code, "unexpected_response",
                              f"GET {path} did not redirect")
        return response.status_code, location

    def _outcome_redirect(self, path: str, params: dict[str, str]) -> VerifyRedirect:
        """A redirect carrying the outcome in its fragment (GET /verify, the OAuth callback):
        the session's parameters, or the refusal raised as GoTrueError."""
        status, location = self._redirect(path, params)
        found = fragment_params(location)
        error = error_from_redirect(found, status)
        if error is not None:
            raise error
        return VerifyRedirect(location, found)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, **kwargs)
        if not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {"items": data}

    # -------------------------------------------------------------------------- public

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/health")

    def settings(self) -> dict[str, Any]:
        return self._json("GET", "/settings")

    def signup(
        self,
        email: str,
        password: str,
        data: dict[str, Any] | None = None,
        redirect_to: str | None = None,
    ) -> SignupResult:
        params = {"redirect_to": redirect_to} if redirect_to else None
        body = self._json(
            "POST", "/signup", json={"email": email, "password": password, "data": data or {}},
            params=params,
        )
        if "access_token" in body:
            session = Session.from_json(body)
            if session.user is None:
                raise GoTrueError(200, "unexpected_response", "signup session without a user")
            return SignupResult(session.user, session)
        return SignupResult(AuthUser.from_json(body), None)

    def verify(
        self, type: VerifyType, token: str, redirect_to: str | None = None
    ) -> VerifyRedirect:
        """GET /verify as a mailed link does; an error in the redirect raises GoTrueError."""
        params = {"type": type, "token": token}
        if redirect_to:
            params["redirect_to"] = redirect_to
        return self._outcome_redirect("/verify", params)

    def verify_otp(self, type: VerifyType, token_hash: str) -> Session:
        """POST /verify with a token hash: the session comes back as JSON."""
        return Session.from_json(
            self._json("POST", "/verify", json={"type": type, "token_hash": token_hash})
        )

    def sign_in_password(self, email: str, password: str) -> Session:
        return Session.from_json(
            self._json("POST", "/token", params={"grant_type": "password"},
                       json={"email": email, "password": password})
        )

    def refresh(self, refresh_token: str) -> Session:
        return Session.from_json(
            self._json("POST", "/token", params={"grant_type": "refresh_token"},
                       json={"refresh_token": refresh_token})
        )

    def authorize(self, provider: str, redirect_to: str | None = None) -> str:
        """GET /authorize?provider=...: where GoTrue sends the browser (the provider's
        authorization URL, with GoTrue's state and callback)."""
        params = {"provider": provider}
        if redirect_to:
            params["redirect_to"] = redirect_to
        return self._redirect("/authorize", params)[1]

    def callback(self, provider_redirect: str) -> VerifyRedirect:
        """The browser brings the provider's redirect (GoTrue's /callback with code and state)
        back to GoTrue; GoTrue answers with a redirect to the app carrying the session, or the
        refusal, in its fragment. Sent to this client's URL whatever host API_EXTERNAL_URL
        names."""
        parts = urllib.parse.urlsplit(provider_redirect)
        if not parts.path.endswith("/callback"):
            raise GoTrueError(0, "unexpected_redirect", f"not GoTrue's callback: {parts.path}")
        params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        return self._outcome_redirect("/callback", params)

    def logout(self, access_token: str, scope: LogoutScope = "global") -> None:
        self.request("POST", "/logout", token=access_token, params={"scope": scope})

    def recover(self, email: str, redirect_to: str | None = None) -> None:
        params = {"redirect_to": redirect_to} if redirect_to else None
        self.request("POST", "/recover", json={"email": email}, params=params)

    def magic_link(self, email: str, redirect_to: str | None = None) -> None:
        """POST /magiclink: GoTrue mails a one-time sign-in link."""
        params = {"redirect_to": redirect_to} if redirect_to else None
        self.request("POST", "/magiclink", json={"email": email}, params=params)

    def get_user(self, access_token: str) -> AuthUser:
        return AuthUser.from_json(self._json("GET", "/user", token=access_token))

    def update_user(
        self,
        access_token: str,
        *,
        password: str | None = None,
        email: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> AuthUser:
        body: dict[str, Any] = {}
        if password is not None:
            body["password"] = password
        if email is not None:
            body["email"] = email
        if data is not None:
            body["data"] = data
        return AuthUser.from_json(self._json("PUT", "/user", token=access_token, json=body))

    # ----------------------------------------------------------------------------- MFA

    def enroll_totp(
        self, access_token: str, friendly_name: str | None = None, issuer: str | None = None
    ) -> TotpEnrollment:
        body: dict[str, Any] = {"factor_type": "totp"}
        if friendly_name:
            body["friendly_name"] = friendly_name
        if issuer:
            body["issuer"] = issuer
        data = self._json("POST", "/factors", token=access_token, json=body)
        totp = data.get("totp") or {}
        return TotpEnrollment(
            id=str(data["id"]),
            type=str(data.get("type", "")),
            friendly_name=str(data.get("friendly_name") or ""),
            secret=str(totp.get("secret", "")),
            uri=str(totp.get("uri", "")),
        )

    def challenge(self, access_token: str, factor_id: str) -> Challenge:
        data = self._json("POST", f"/factors/{factor_id}/challenge", token=access_token, json={})
        expires = data.get("expires_at")
        return Challenge(str(data["id"]), int(expires) if isinstance(expires, int) else None)

    def verify_factor(
        self, access_token: str, factor_id: str, challenge_id: str, code: str
    ) -> Session:
        return Session.from_json(
            self._json("POST", f"/factors/{factor_id}/verify", token=access_token,
                       json={"challenge_id": challenge_id, "code": code})
        )

    def unenroll(self, access_token: str, factor_id: str) -> None:
        self.request("DELETE", f"/factors/{factor_id}", token=access_token)

    # --------------------------------------------------------------------------- admin

    def admin_create_user(
        self,
        email: str,
        password: str | None = None,
        *,
        email_confirm: bool = True,
        app_metadata: dict[str, Any] | None = None,
        user_metadata: dict[str, Any] | None = None,
    ) -> AuthUser:
        body: dict[str, Any] = {"email": email, "email_confirm": email_confirm}
        if password is not None:
            body["password"] = password
        if app_metadata is not None:
            body["app_metadata"] = app_metadata
        if user_metadata is not None:
            body["user_metadata"] = user_metadata
        return AuthUser.from_json(self._json("POST", "/admin/users", json=body))

    def admin_list_users(self, page: int = 1, per_page: int = 50) -> list[AuthUser]:
        data = self._json("GET", "/admin/users",
                          params={"page": str(page), "per_page": str(per_page)})
        return [AuthUser.from_json(u) for u in data.get("users") or []]

    def admin_get_user(self, user_id: str) -> AuthUser:
        return AuthUser.from_json(self._json("GET", f"/admin/users/{user_id}"))

    def admin_update_user(self, user_id: str, **fields: Any) -> AuthUser:
        """PUT /admin/users/{id}: ban_duration ("24h", "none"), password, app_metadata..."""
        return AuthUser.from_json(self._json("PUT", f"/admin/users/{user_id}", json=fields))

    def admin_delete_user(self, user_id: str, soft: bool = False) -> None:
        self.request("DELETE", f"/admin/users/{user_id}", json={"should_soft_delete": soft})
