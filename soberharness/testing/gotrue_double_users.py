"""The GoTrue protocol double's admin user routes, kept in memory: what the contract suite's
destructive run does to a user of its own (made with POST /admin/users, listed with GET
/admin/users, changed with PUT and removed with DELETE /admin/users/{user_id}).

Not GoTrue: no database, no identities table, no passwords kept. It answers as
supabase/auth's internal/api/admin.go does (read there, not copied):

- `GET /admin/users?page&per_page`: `{"users", "aud"}`; a page or per_page that is no unsigned
  64-bit integer is 400 (`Bad Pagination Parameters`); GoTrue casts both to int, takes a value
  under 1 as its default (page 1, 20 a page), and a page far enough out makes the OFFSET overflow
  to a negative: 500; per_page=0 divides by zero counting pages: 500 (both declared in
  stack/declarations.toml);
- `POST /admin/users`: the body decoded into GoTrue's admin parameters (a field of the wrong JSON
  type is 400; unknown fields and nulls are ignored); neither e-mail nor phone is 400, a taken
  e-mail 422 `email_exists`, a bad e-mail or phone 400, a password under 6 characters 422
  `weak_password`, a bad `ban_duration` 400; the user (role `authenticated` unless given);
- `GET/PUT/DELETE /admin/users/{user_id}`: an id that is no UUID is 404 `validation_failed`, an
  unknown one 404 `user_not_found`; PUT merges the metadata (a null value drops a key) and
  answers the user; DELETE answers `{}`;
- a `\\u0000` anywhere in a write's body is the 500 GoTrue answers (PostgreSQL text cannot hold
  it; declared for PUT /admin/users/{userId}).

Planted defects for the contract suite's selftest: `PUT_REACHES_ANOTHER_USER` applies every PUT
to the first other user too (a write that reaches the shared world)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import uuid
from typing import Any

PUT_REACHES_ANOTHER_USER = "put-also-changes-the-first-other-user"
USERS_PLANTED = frozenset({PUT_REACHES_ANOTHER_USER})

Answer = tuple[int, Any]
INT64 = 2**63
UINT64 = 2**64
PASSWORD_MIN = 6
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE = re.compile(r"^[1-9][0-9]{1,14}$")
DURATION = re.compile(r"^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h))+$|^[-+]?0$")
UNITS_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
DURATION_MAX_S = 2**63 / 1e9  # Go's time.Duration is int64 nanoseconds
# AdminUserParams: field -> the JSON types Go decodes into it (null always decodes).
FIELDS: dict[str, tuple[type, ...]] = {
    "aud": (str,), "role": (str,), "email": (str,), "phone": (str,), "password": (str,),
    "email_confirm": (bool,), "phone_confirm": (bool,), "user_metadata": (dict,),
    "app_metadata": (dict,), "ban_duration": (str,), "id": (str,),
}


def error(status: int, code: str, msg: str) -> Answer:
    return status, {"code": status, "error_code": code, "msg": msg}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def decode(raw: bytes) -> dict[str, Any] | Answer:
    """GoTrue's admin parameters from a body, or the 400 json.Unmarshal's failure is."""
    try:
        body = json.loads(raw.decode()) if raw else None
    except (UnicodeDecodeError, ValueError):
        return error(400, "bad_json", "Could not parse request body as JSON")
    if body is None and raw.strip() == b"null":
        return {}
    if not isinstance(body, dict):
        return error(400, "bad_json", "Could not parse request body as JSON")
    for name, types in FIELDS.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, types)
                                  or (types == (str,) and isinstance(value, bool))):
            return error(400, "bad_json", f"Could not parse request body as JSON: {name}")
    return {k: v for k, v in body.items() if k in FIELDS and v is not None}


def _ban_until(duration: str) -> str | Answer | None:
    if duration == "none":
        return None
    if not DURATION.match(duration):
        return error(400, "validation_failed", "invalid format for ban duration")
    sign = -1 if duration.startswith("-") else 1
    seconds = sum(float(n) * UNITS_S[u]
                  for n, u in re.findall(r"(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)", duration))
    if seconds >= DURATION_MAX_S:
        return error(400, "validation_failed", "invalid format for ban duration: overflow")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=sign * seconds)
    return until.isoformat() if seconds else None


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if value is None:
            into.pop(key, None)
        else:
            into[key] = value


def _checked(params: dict[str, Any], users: dict[str, dict[str, Any]],
             own: str | None) -> Answer | None:
    """The 4xx GoTrue answers for these parameters, in its order, or None."""
    email = params.get("email", "")
    if email and (len(email) > 255 or not EMAIL.match(email)):
        return error(400, "validation_failed", "Unable to validate email address: invalid format")
    if email and any(u["email"] == email.lower() and i != own for i, u in users.items()):
        return error(422, "email_exists",
                     "A user with this email address has already been registered")
    phone = params.get("phone", "")
    if phone and not PHONE.match(phone.strip().lstrip("+").replace(" ", "")):
        return error(400, "validation_failed", "Invalid phone number format (E.164 required)")
    password = params.get("password")
    if password is not None and len(password) < PASSWORD_MIN:
        return error(422, "weak_password",
                     f"Password should be at least {PASSWORD_MIN} characters.")
    return None


class AdminUsers:
    """The users of the double, by id, and GoTrue's admin user routes over them."""

    def __init__(self, users: list[dict[str, Any]] | None = None,
                 planted: frozenset[str] = frozenset()) -> None:
        unknown = planted - USERS_PLANTED
        if unknown:
            raise ValueError(f"unknown planted defects: {sorted(unknown)}")
        self.planted = planted
        self.users: dict[str, dict[str, Any]] = {}
        for seed in users or []:
            user = self._new(seed)
            self.users[user["id"]] = user

    def _new(self, params: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        email = params.get("email", "").lower()
        providers = [p for p, v in (("email", email), ("phone", params.get("phone"))) if v]
        confirmed = now if params.get("email_confirm") else None
        return {"id": params.get("id") or str(uuid.uuid4()), "aud": params.get("aud") or
                "authenticated", "role": params.get("role") or "authenticated",
                "email": email, "phone": params.get("phone", ""),
                "email_confirmed_at": confirmed, "confirmed_at": confirmed,
                "phone_confirmed_at": now if params.get("phone_confirm") else None,
                "banned_until": None, "last_sign_in_at": None,
                "app_metadata": {"provider": providers[0] if providers else "email",
                                 "providers": providers, **params.get("app_metadata", {})},
                "user_metadata": dict(params.get("user_metadata", {})),
                "identities": [], "created_at": now, "updated_at": now,
                "is_anonymous": False}

    def listing(self, query: dict[str, list[str]]) -> Answer:
        raw = {name: query.get(name, [""])[-1] for name in ("page", "per_page")}
        parsed = {}
        for name, value in raw.items():
            if value and not (value.isdigit() and int(value) < UINT64):
                return error(400, "validation_failed", "Bad Pagination Parameters")
            parsed[name] = int(value) if value else (1 if name == "page" else 50)
        page, per_page = (_as_int(parsed["page"]), _as_int(parsed["per_page"]))
        page, size = (page if page >= 1 else 1), (per_page if per_page >= 1 else 20)
        offset = _as_int((page - 1) * size % UINT64)
        if offset < 0 or parsed["per_page"] == 0:
            return error(500, "unexpected_failure", "Database error finding users")
        ordered = sorted(self.users.values(), key=lambda u: u["created_at"], reverse=True)
        return 200, {"users": ordered[offset:offset + size], "aud": "authenticated"}

    def create(self, raw: bytes) -> Answer:
        params = decode(raw)
        if isinstance(params, tuple):
            return params
        if not params.get("email") and not params.get("phone"):
            return error(400, "validation_failed",
                         "Cannot create a user without either an email or phone")
        if "id" in params and not _uuid(params["id"]):
            return error(400, "validation_failed", "ID must conform to the uuid v4 format")
        if params.get("id") in self.users:
            return error(422, "user_already_exists", "User already registered")
        refused = _checked(params, self.users, None)
        if refused is not None:
            return refused
        if _has_nul(params):
            return error(500, "unexpected_failure", "Database error creating new user")
        user = self._new(params)
        banned = _ban_until(params["ban_duration"]) if "ban_duration" in params else None
        if isinstance(banned, tuple):
            return banned
        user["banned_until"] = banned
        self.users[user["id"]] = user
        return 200, user

    def _user(self, user_id: str) -> dict[str, Any] | Answer:
        try:
            key = str(uuid.UUID(user_id))
        except ValueError:
            return error(404, "validation_failed", "user_id must be an UUID")
        user = self.users.get(key)
        return user if user is not None else error(404, "user_not_found", "User not found")

    def get(self, user_id: str) -> Answer:
        user = self._user(user_id)
        return user if isinstance(user, tuple) else (200, user)

    def update(self, user_id: str, raw: bytes) -> Answer:
        user = self._user(user_id)
        if isinstance(user, tuple):
            return user
        params = decode(raw)
        if isinstance(params, tuple):
            return params
        refused = _checked(params, self.users, user["id"])
        if refused is not None:
            return refused
        banned = _ban_until(params["ban_duration"]) if "ban_duration" in params else False
        if isinstance(banned, tuple):
            return banned
        if _has_nul(params):
            return error(500, "unexpected_failure", "Error updating user")
        targets = [user]
        if PUT_REACHES_ANOTHER_USER in self.planted:
            targets += [u for i, u in sorted(self.users.items()) if i != user["id"]][:1]
        for target in targets:
            _apply(target, params, banned)
        return 200, user

    def delete(self, user_id: str, raw: bytes) -> Answer:
        user = self._user(user_id)
        if isinstance(user, tuple):
            return user
        if raw.strip():
            try:
                body = json.loads(raw.decode())
            except (UnicodeDecodeError, ValueError):
                return error(400, "bad_json", "Could not read params")
            soft = body.get("should_soft_delete") if isinstance(body, dict) else None
            if body is not None and (not isinstance(body, dict)
                                     or not isinstance(soft, bool | None)):
                return error(400, "bad_json", "Could not read params")
        del self.users[user["id"]]
        return 200, {}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.users)


def _uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _as_int(value: int) -> int:
    """A uint64 cast to Go's int (int64), wrapping as Go does."""
    return value - UINT64 if value >= INT64 else value


def _apply(user: dict[str, Any], params: dict[str, Any], banned: str | bool | None) -> None:
    now = _now()
    for name in ("role", "phone"):
        if params.get(name):
            user[name] = params[name]
    if params.get("email"):
        user["email"] = params["email"].lower()
    if params.get("email_confirm"):
        user["email_confirmed_at"] = user["confirmed_at"] = user["email_confirmed_at"] or now
    if params.get("phone_confirm"):
        user["phone_confirmed_at"] = user["phone_confirmed_at"] or now
    if banned is not False:
        user["banned_until"] = banned
    _merge(user["app_metadata"], params.get("app_metadata", {}))
    _merge(user["user_metadata"], params.get("user_metadata", {}))
    user["updated_at"] = now
