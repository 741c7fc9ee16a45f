"""The GoTrue protocol double's token routes, kept in memory: what the forged-metadata check
(runner/forged_metadata.py) walks. Not GoTrue: passwords in plain memory, no database.

It answers as supabase/auth's internal/api does at v2.186.0 (read there, not copied):

- `POST /token?grant_type=password` and `?grant_type=refresh_token`: a session whose access
  token carries GoTrue's claims (internal/tokens, AccessTokenClaims: `aud`, `exp`, `iat`, `sub`,
  `email`, `phone`, `app_metadata`, `user_metadata`, `role`, `aal`, `amr`, `session_id`,
  `is_anonymous`), passed through `access_token_hook` when a test sets one (GoTrue's custom
  access token hook: claims in, claims out); bad credentials 400 `invalid_credentials`, an
  unknown or used refresh token 400 `refresh_token_not_found`;
- `PUT /user` with `data`: merged into the bearer's `user_metadata`, as GoTrue does; a token
  the double did not sign is 401 `bad_jwt`;
- `POST /logout` (scope global): the bearer's refresh tokens revoked, 204; a token the double
  did not sign is 401 `bad_jwt`;
- a password sign-in of a user whose e-mail is not confirmed (`confirmed`, which the double sets
  from its admin users) is 400 `email_not_confirmed`.

`add_user` makes a confirmed e-mail user first.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt

from soberharness.testing.gotrue_double_users import Answer, error

Hook = Callable[[dict[str, Any]], dict[str, Any]]


class TokenRoutes:
    """Users who sign in with a password, their sessions and refresh tokens."""

    def __init__(self) -> None:
        self.jwt_secret = "gotrue-protocol-double-secret-of-32-chars"
        self.users: dict[str, dict[str, Any]] = {}  # by e-mail
        self.access_token_hook: Hook | None = None
        self.confirmed: Callable[[str], bool] = lambda email: True
        self._refresh: dict[str, str] = {}  # refresh token -> e-mail

    def add_user(self, email: str, password: str,
                 app_metadata: dict[str, Any] | None = None, user_id: str = "") -> str:
        """An e-mail user who signs in with `password` (confirmed unless `confirmed` says
        otherwise); returns its id."""
        uid = user_id or str(uuid.uuid4())
        self.users[email] = {"id": uid, "password": password, "user_metadata": {},
                             "app_metadata": {"provider": "email", "providers": ["email"],
                                              **(app_metadata or {})}}
        return uid

    def answer(self, method: str, route: str, grant: str, body: bytes,
               bearer: str) -> Answer | None:
        """The answer to a token route, or None for any other route."""
        if method == "POST" and route == "/token" and grant in ("password", "refresh_token"):
            data = _json(body)
            if grant == "password":
                return self._password(data)
            email = self._refresh.pop(str(data.get("refresh_token", "")), "")
            if not email:
                return error(400, "refresh_token_not_found",
                             "Invalid Refresh Token: Refresh Token Not Found")
            return 200, self._session(email)
        if method == "POST" and route == "/logout":
            email = self.email_of(bearer)
            if email is None:
                return error(401, "bad_jwt", "invalid JWT")
            self._refresh = {t: e for t, e in self._refresh.items() if e != email}
            return 204, None
        if method == "PUT" and route == "/user":
            email = self.email_of(bearer)
            if email is None:
                return error(401, "bad_jwt", "invalid JWT")
            user = self.users[email]
            user["user_metadata"] = {**user["user_metadata"], **(_json(body).get("data") or {})}
            return 200, self._user_json(email)
        return None

    def _password(self, data: dict[str, Any]) -> Answer:
        user = self.users.get(str(data.get("email", "")))
        if user is None or user["password"] != data.get("password"):
            return error(400, "invalid_credentials", "Invalid login credentials")
        if not self.confirmed(str(data["email"])):
            return error(400, "email_not_confirmed", "Email not confirmed")
        return 200, self._session(str(data["email"]))

    def forget(self, user_id: str) -> None:
        """Remove a user (deleted through the admin API) and their refresh tokens."""
        gone = {e for e, u in self.users.items() if u["id"] == user_id}
        self.users = {e: u for e, u in self.users.items() if e not in gone}
        self._refresh = {t: e for t, e in self._refresh.items() if e not in gone}

    def email_of(self, bearer: str) -> str | None:
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


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
